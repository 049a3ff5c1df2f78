import { KeystoreError } from './errors.ts'
import { identityFromBytes, identityToBytes } from './identity.ts'
import type { Identity } from './identity.ts'
import type { Keystore } from './keystore.ts'

const STORE = 'identity'
const KEY = 'current'

/** Browsers: the identity in its own IndexedDB database (one per browser profile and origin). */
export class IDBKeystore implements Keystore {
  private db?: Promise<IDBDatabase>

  constructor(
    private readonly name = 'kith-identity',
    private readonly factory: IDBFactory = globalThis.indexedDB
  ) {}

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = this.factory.open(this.name, 1)
      request.onupgradeneeded = () => request.result.createObjectStore(STORE)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () =>
        reject(new KeystoreError(`cannot open IndexedDB "${this.name}"`, { cause: request.error }))
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
      tx.onerror = () => reject(new KeystoreError(`IndexedDB "${this.name}" failed`, { cause: tx.error }))
      tx.onabort = () => reject(new KeystoreError(`IndexedDB "${this.name}" aborted`, { cause: tx.error }))
    })
  }

  async load(): Promise<Identity | undefined> {
    const value: unknown = await this.run('readonly', (store) => store.get(KEY))
    if (value == null) return undefined
    if (!(value instanceof Uint8Array)) throw new KeystoreError('the stored identity is not bytes')
    return identityFromBytes(value)
  }

  async save(identity: Identity): Promise<void> {
    await this.run('readwrite', (store) => store.put(identityToBytes(identity), KEY))
  }

  async clear(): Promise<void> {
    await this.run('readwrite', (store) => store.delete(KEY))
  }

  /** Closes the database connection. */
  async close(): Promise<void> {
    if (this.db != null) (await this.db).close()
    this.db = undefined
  }
}
