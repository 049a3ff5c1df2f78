import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { KeystoreError } from './errors.ts'
import { identityFromBytes, identityToBytes } from './identity.ts'
import type { Identity } from './identity.ts'
import type { Keystore } from './keystore.ts'

/**
 * Node: one file, created with mode 0600 and replaced atomically (write a 0600 temporary file, then rename), so a
 * crash never leaves half an identity.
 */
export class FileKeystore implements Keystore {
  constructor(private readonly path: string) {}

  async load(): Promise<Identity | undefined> {
    let bytes: Uint8Array
    try {
      bytes = await readFile(this.path)
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new KeystoreError(`cannot read ${this.path}: ${(err as Error).message}`, { cause: err })
    }
    return identityFromBytes(bytes)
  }

  async save(identity: Identity): Promise<void> {
    const temporary = `${this.path}.${process.pid}.tmp`
    try {
      await mkdir(dirname(this.path), { recursive: true })
      const handle = await open(temporary, 'w', 0o600)
      try {
        await handle.writeFile(identityToBytes(identity))
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(temporary, this.path)
    } catch (err: unknown) {
      await rm(temporary, { force: true })
      throw new KeystoreError(`cannot write ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true })
  }
}
