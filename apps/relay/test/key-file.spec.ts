import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { KeyFileError, loadOrCreateKey } from '../src/index.ts'

describe('loadOrCreateKey', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kith-key-'))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('should create the key file with mode 0600 on first start and reuse it after', async () => {
    const path = join(dir, 'nested', 'relay.key')
    const first = await loadOrCreateKey(path)
    expect(first.created).toBe(true)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const second = await loadOrCreateKey(path)
    expect(second.created).toBe(false)
    expect(second.privateKey.publicKey.toString()).toBe(first.privateKey.publicKey.toString())
  })

  it('should refuse a file that holds no key, and leave it as it was', async () => {
    const path = join(dir, 'relay.key')
    await writeFile(path, 'not a key')
    await expect(loadOrCreateKey(path)).rejects.toMatchObject({ name: KeyFileError.name })
    expect(await readFile(path, 'utf8')).toBe('not a key')
  })

  it('should refuse a key file path that is a directory', async () => {
    await expect(loadOrCreateKey(dir)).rejects.toMatchObject({ name: KeyFileError.name })
  })
})
