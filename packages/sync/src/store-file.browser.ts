import type * as Y from 'yjs'
import type { DocStore } from './store.ts'

/** Browsers have no file system: use `IndexedDBDocStore`. */
export class FileDocStore implements DocStore {
  constructor(readonly dir: string) {}

  async bind(_key: string, _doc: Y.Doc): Promise<() => Promise<void>> {
    await Promise.resolve()
    throw new TypeError('FileDocStore is for Node; use IndexedDBDocStore in a browser')
  }
}
