import { createIdentity, identityFromBytes, identityToBytes } from './identity.ts'
import { MemoryByteStore } from './store.ts'
import { FileByteStore } from './store-file.ts'
import { IDBByteStore } from './store-idb.ts'
import type { CreateIdentityInit, Identity } from './identity.ts'
import type { ByteStore } from './store.ts'

/** Where one device keeps its identity. */
export interface Keystore {
  /** The stored identity, or undefined when there is none. Throws `KeystoreError` when it cannot be read. */
  load(): Promise<Identity | undefined>
  /** Stores `identity`, replacing any other, atomically. */
  save(identity: Identity): Promise<void>
  /** Forgets the stored identity. */
  clear(): Promise<void>
}

/** The stored identity, or a new one (stored before it is returned). */
export async function loadOrCreateIdentity(
  keystore: Keystore,
  init: CreateIdentityInit = {}
): Promise<Identity> {
  const existing = await keystore.load()
  if (existing != null) return existing
  const identity = await createIdentity(init)
  await keystore.save(identity)
  return identity
}

class ByteStoreKeystore implements Keystore {
  constructor(protected readonly store: ByteStore) {}

  async load(): Promise<Identity | undefined> {
    const bytes = await this.store.get()
    return bytes == null ? undefined : identityFromBytes(bytes)
  }

  async save(identity: Identity): Promise<void> {
    await this.store.put(identityToBytes(identity))
  }

  async clear(): Promise<void> {
    await this.store.delete()
  }
}

/** Keeps the identity in memory only: tests, and apps that restore from a backup on every start. */
export class MemoryKeystore extends ByteStoreKeystore {
  constructor() {
    super(new MemoryByteStore())
  }
}

/** Node: a file created with mode 0600, replaced atomically. */
export class FileKeystore extends ByteStoreKeystore {
  constructor(path: string) {
    super(new FileByteStore(path))
  }
}

/** Browsers: the identity in IndexedDB (one database per browser profile and origin). */
export class IDBKeystore extends ByteStoreKeystore {
  constructor(database = 'kith-identity', factory?: IDBFactory) {
    super(new IDBByteStore(database, 'identity', factory))
  }

  /** Closes the database connection. */
  async close(): Promise<void> {
    await (this.store as IDBByteStore).close()
  }
}
