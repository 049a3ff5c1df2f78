import * as Y from 'yjs'

/**
 * Where a room's documents live on this device. `bind` loads the document stored under `key` into `doc`, then
 * stores every later update of `doc` until the returned function is called (which waits for pending writes).
 */
export interface DocStore {
  bind(key: string, doc: Y.Doc): Promise<() => Promise<void>>
}

/** Keeps documents in memory: for tests, and for peers that hold nothing across restarts. */
export class MemoryDocStore implements DocStore {
  private readonly updates = new Map<string, Uint8Array[]>()

  async bind(key: string, doc: Y.Doc): Promise<() => Promise<void>> {
    await Promise.resolve()
    const stored = this.updates.get(key) ?? []
    this.updates.set(key, stored)
    if (stored.length > 0) Y.applyUpdate(doc, Y.mergeUpdates(stored), this)
    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      if (origin !== this) stored.push(update)
    }
    doc.on('update', onUpdate)
    return async () => {
      doc.off('update', onUpdate)
      await Promise.resolve()
    }
  }
}
