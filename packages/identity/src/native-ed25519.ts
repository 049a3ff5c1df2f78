// Ed25519 signature checks by the platform's WebCrypto (BoringSSL in Chromium, OpenSSL in Node), for callers that can
// wait a turn. In a browser, noble's Ed25519 in JavaScript verified about 2,200 signatures a second when hot and took
// milliseconds each when cold, and a room checks every member's neighbour attestation every interval: at 8 browsers
// that was the largest single part of an idle page's JavaScript, and it grows with the room.
//
// Strictness: noble's strict rule (the sync `checkSignature`) takes canonical encodings of A and R, S < L, refuses a
// small-order A, and checks the cofactored equation. WebCrypto checks S < L and the cofactorless equation, which
// accepts a subset of what the cofactored one does; the encodings and the small-order A are checked here first. So
// this path accepts nothing the sync rule refuses (it may refuse a crafted signature with a small-order part in R).
import { ed25519 } from '@noble/curves/ed25519.js'
import { toString } from 'uint8arrays/to-string'

const subtle = globalThis.crypto?.subtle as SubtleCrypto | undefined

/** Public keys imported into WebCrypto (or found unusable), at most this many at once. */
const MAX_KEYS = 4096

let support: Promise<boolean> | undefined

async function supported(): Promise<boolean> {
  support ??= (async () => {
    if (subtle == null) return false
    try {
      // a known-good signature (RFC 8032, test 1): platforms that list Ed25519 but verify wrongly are not used
      const key = await subtle.importKey('raw', RFC8032_PUBLIC, { name: 'Ed25519' }, false, ['verify'])
      return await subtle.verify({ name: 'Ed25519' }, key, RFC8032_SIGNATURE, new Uint8Array(0))
    } catch {
      return false
    }
  })()
  return support
}

const hex = (s: string): Uint8Array<ArrayBuffer> =>
  new Uint8Array(s.match(/../g)?.map((b) => parseInt(b, 16)) ?? [])
const RFC8032_PUBLIC = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
const RFC8032_SIGNATURE = hex(
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
)

/** Whether a 32-byte point encoding has y < p = 2^255 − 19 (the sign bit aside). */
export function isCanonicalPoint(bytes: Uint8Array): boolean {
  if (bytes.byteLength !== 32) return false
  if (((bytes[31] as number) & 0x7f) !== 0x7f) return true
  for (let i = 30; i >= 1; i--) if (bytes[i] !== 0xff) return true
  return (bytes[0] as number) < 0xed
}

const keys = new Map<string, Promise<CryptoKey | undefined>>()

async function importKey(publicKey: Uint8Array): Promise<CryptoKey | undefined> {
  const id = toString(publicKey, 'base64')
  let entry = keys.get(id)
  if (entry == null) {
    if (keys.size >= MAX_KEYS) keys.clear()
    entry = (async () => {
      // undefined: a key the strict rule refuses (not canonical, not on the curve, small order)
      if (!isCanonicalPoint(publicKey)) return undefined
      try {
        if (ed25519.Point.fromBytes(publicKey).isSmallOrder()) return undefined
      } catch {
        return undefined
      }
      return (subtle as SubtleCrypto).importKey(
        'raw',
        new Uint8Array(publicKey),
        { name: 'Ed25519' },
        false,
        ['verify']
      )
    })().catch(() => undefined)
    keys.set(id, entry)
  }
  return entry
}

/**
 * Verifies an Ed25519 signature with WebCrypto: true or false, or undefined where the platform has no usable
 * Ed25519 (the caller then uses noble's).
 */
export async function verifyNative(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array
): Promise<boolean | undefined> {
  if (!(await supported())) return undefined
  if (signature.byteLength !== 64 || !isCanonicalPoint(signature.subarray(0, 32))) return false
  const key = await importKey(publicKey)
  if (key == null) return false
  try {
    return await (subtle as SubtleCrypto).verify(
      { name: 'Ed25519' },
      key,
      new Uint8Array(signature),
      new Uint8Array(message)
    )
  } catch {
    return false
  }
}
