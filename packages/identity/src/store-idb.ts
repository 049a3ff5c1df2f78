import { KeystoreError } from './errors.ts'
import type { ByteStore } from './store.ts'

const STORE = 'values'

/** Browsers: values in an IndexedDB database, one key each. */
export class IDBByteStore implements ByteStore {
  private db?: Promise<IDBDatabase>

  constructor(
    private readonly database: string,
    private readonly key: string,
    private readonly factory: IDBFactory = globalThis.indexedDB
  ) {}

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = this.factory.open(this.database, 1)
      request.onupgradeneeded = () => request.result.createObjectStore(STORE)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () =>
        reject(new KeystoreError(`cannot open IndexedDB "${this.database}"`, { cause: request.error }))
    })
    return this.db
  }

  private async run<T>(
    mode: IDBTransactionMode,
    action: (store: IDBObjectStore) => IDBRequest<T>
  ): Promise<T> {
    const db = await this.open()
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode)
      const request = action(tx.objectStore(STORE))
      tx.oncomplete = () => resolve(request.result)
      tx.onerror = () => reject(new KeystoreError(`IndexedDB "${this.database}" failed`, { cause: tx.error }))
      tx.onabort = () =>
        reject(new KeystoreError(`IndexedDB "${this.database}" aborted`, { cause: tx.error }))
    })
  }

  async get(): Promise<Uint8Array | undefined> {
    const value: unknown = await this.run('readonly', (store) => store.get(this.key))
    if (value == null) return undefined
    if (!(value instanceof Uint8Array)) throw new KeystoreError(`the value at "${this.key}" is not bytes`)
    return value
  }

  async put(bytes: Uint8Array): Promise<void> {
    await this.run('readwrite', (store) => store.put(bytes, this.key))
  }

  async delete(): Promise<void> {
    await this.run('readwrite', (store) => store.delete(this.key))
  }

  async close(): Promise<void> {
    if (this.db != null) (await this.db).close()
    this.db = undefined
  }
}
