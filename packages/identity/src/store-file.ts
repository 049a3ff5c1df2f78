import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { KeystoreError } from './errors.ts'
import type { ByteStore } from './store.ts'

/**
 * Node: one file, created with mode 0600 and replaced atomically (write a 0600 temporary file, sync, rename), so a
 * crash never leaves half a value.
 */
export class FileByteStore implements ByteStore {
  constructor(private readonly path: string) {}

  async get(): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path)
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new KeystoreError(`cannot read ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }

  async put(bytes: Uint8Array): Promise<void> {
    const temporary = `${this.path}.${process.pid}.tmp`
    try {
      await mkdir(dirname(this.path), { recursive: true })
      const handle = await open(temporary, 'w', 0o600)
      try {
        await handle.writeFile(bytes)
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

  async delete(): Promise<void> {
    await rm(this.path, { force: true })
  }
}
