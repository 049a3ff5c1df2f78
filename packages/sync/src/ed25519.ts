// Ed25519 for updates, with each key imported into WebCrypto once. libp2p's keys import the key again on every
// sign and verify, which on the edit path cost more than the signature itself. Where WebCrypto has no Ed25519,
// the libp2p key does the work.
import { toString } from 'uint8arrays/to-string'
import type { PrivateKey, PublicKey } from '@libp2p/interface'

const subtle = globalThis.crypto?.subtle as SubtleCrypto | undefined

const supported: Promise<boolean> = (async () => {
  try {
    if (subtle == null) return false
    await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
    return true
  } catch {
    return false
  }
})()

const bytes = (data: Uint8Array): Uint8Array<ArrayBuffer> =>
  data.buffer instanceof ArrayBuffer ? (data as Uint8Array<ArrayBuffer>) : new Uint8Array(data)

/** Signs with `key`, importing it into WebCrypto on first use. */
export function ed25519Signer(key: PrivateKey): (message: Uint8Array) => Promise<Uint8Array> {
  let imported: Promise<CryptoKey | undefined> | undefined
  const load = async (): Promise<CryptoKey | undefined> => {
    if (key.type !== 'Ed25519' || subtle == null || !(await supported)) return undefined
    const jwk: JsonWebKey = {
      crv: 'Ed25519',
      kty: 'OKP',
      x: toString(key.publicKey.raw, 'base64url'),
      d: toString(key.raw.subarray(0, 32), 'base64url'),
      ext: false,
      key_ops: ['sign']
    }
    return subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['sign'])
  }
  return async (message) => {
    imported ??= load().catch(() => undefined)
    const cryptoKey = await imported
    if (cryptoKey == null || subtle == null) return key.sign(message)
    return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, cryptoKey, bytes(message)))
  }
}

/** Verifies signatures by many keys, each imported into WebCrypto once (up to `max` keys are kept). */
export function ed25519Verifier(
  max = 4096
): (key: PublicKey, message: Uint8Array, signature: Uint8Array) => Promise<boolean> {
  const imported = new Map<string, Promise<CryptoKey | undefined>>()
  const load = async (key: PublicKey): Promise<CryptoKey | undefined> => {
    if (key.type !== 'Ed25519' || subtle == null || !(await supported)) return undefined
    return subtle.importKey('raw', bytes(key.raw), { name: 'Ed25519' }, false, ['verify'])
  }
  return async (key, message, signature) => {
    const id = toString(key.raw, 'base64')
    let entry = imported.get(id)
    if (entry == null) {
      if (imported.size >= max) imported.clear()
      entry = load(key).catch(() => undefined)
      imported.set(id, entry)
    }
    const cryptoKey = await entry
    if (cryptoKey == null || subtle == null) return key.verify(message, signature)
    try {
      return await subtle.verify({ name: 'Ed25519' }, cryptoKey, bytes(signature), bytes(message))
    } catch {
      return false
    }
  }
}
