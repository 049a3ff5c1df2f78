import { IndexeddbPersistence } from 'y-indexeddb'
import type { DocStore } from './store.ts'
import type * as Y from 'yjs'

/**
 * Browsers: each document in its own IndexedDB database through y-indexeddb (named `<prefix><key>`), which stores
 * every update as it happens and compacts them in the background. A reload shows the stored state at once.
 */
export class IndexedDBDocStore implements DocStore {
  constructor(private readonly prefix = 'kith-sync:') {}

  async bind(key: string, doc: Y.Doc): Promise<() => Promise<void>> {
    const persistence = new IndexeddbPersistence(`${this.prefix}${key}`, doc)
    await persistence.whenSynced
    return async () => {
      await persistence.destroy()
    }
  }
}
