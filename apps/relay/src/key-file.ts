import { open, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { KeyFileError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'

/**
 * The relay's identity: read from `path`, or created there (mode 0600, never overwritten) on first start so the
 * relay's peer id, and so every address browsers keep for it, stays the same across restarts.
 */
export async function loadOrCreateKey(path: string): Promise<{ privateKey: PrivateKey; created: boolean }> {
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(path)
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KeyFileError(`cannot read key file ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  if (bytes != null) {
    try {
      return { privateKey: privateKeyFromProtobuf(bytes), created: false }
    } catch (err: unknown) {
      throw new KeyFileError(`key file ${path} does not hold a libp2p private key`, { cause: err })
    }
  }
  const privateKey = await generateKeyPair('Ed25519')
  try {
    await mkdir(dirname(path), { recursive: true })
    // 'wx' refuses to replace a file another process created in the meantime
    const handle = await open(path, 'wx', 0o600)
    try {
      await handle.writeFile(privateKeyToProtobuf(privateKey))
    } finally {
      await handle.close()
    }
  } catch (err: unknown) {
    throw new KeyFileError(`cannot create key file ${path}: ${(err as Error).message}`, { cause: err })
  }
  return { privateKey, created: true }
}
