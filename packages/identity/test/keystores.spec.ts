import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDBFactory } from 'fake-indexeddb'
import { describe, expect, it } from 'vitest'
import {
  FileKeystore,
  IDBKeystore,
  KeystoreError,
  loadOrCreateIdentity,
  MemoryKeystore
} from '../src/index.ts'
import { runKeystoreTests } from './keystore-suite.ts'

runKeystoreTests('memory', () => {
  const keystore = new MemoryKeystore()
  return Promise.resolve({
    keystore,
    reopen: () => Promise.resolve(keystore),
    cleanup: () => Promise.resolve()
  })
})

runKeystoreTests('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kith-keystore-'))
  const path = join(dir, 'identity')
  return {
    keystore: new FileKeystore(path),
    reopen: () => Promise.resolve(new FileKeystore(path)),
    cleanup: async () => rm(dir, { recursive: true, force: true })
  }
})

runKeystoreTests('IndexedDB', () => {
  const factory = new IDBFactory()
  const opened: IDBKeystore[] = []
  const make = (): IDBKeystore => {
    const keystore = new IDBKeystore('kith-test', factory)
    opened.push(keystore)
    return keystore
  }
  return Promise.resolve({
    keystore: make(),
    reopen: () => Promise.resolve(make()),
    cleanup: async () => {
      await Promise.all(opened.map(async (k) => k.close()))
    }
  })
})

describe('the file keystore', () => {
  it('should keep the identity in a file only its owner can read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kith-keystore-'))
    try {
      const path = join(dir, 'nested', 'identity')
      await loadOrCreateIdentity(new FileKeystore(path))
      expect((await stat(path)).mode & 0o777).toBe(0o600)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('should refuse a file that holds no identity, and leave it as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kith-keystore-'))
    try {
      const path = join(dir, 'identity')
      await writeFile(path, 'not an identity')
      await expect(loadOrCreateIdentity(new FileKeystore(path))).rejects.toMatchObject({
        name: KeystoreError.name
      })
      expect((await stat(path)).size).toBe('not an identity'.length)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
