import { createIdentity, identityFromBytes, identityToBytes } from './identity.ts'
import type { CreateIdentityInit, Identity } from './identity.ts'

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

/** Keeps the identity in memory only: tests, and apps that restore from a backup on every start. */
export class MemoryKeystore implements Keystore {
  private bytes?: Uint8Array

  load(): Promise<Identity | undefined> {
    return Promise.resolve(this.bytes == null ? undefined : identityFromBytes(this.bytes))
  }

  save(identity: Identity): Promise<void> {
    this.bytes = identityToBytes(identity)
    return Promise.resolve()
  }

  clear(): Promise<void> {
    this.bytes = undefined
    return Promise.resolve()
  }
}
