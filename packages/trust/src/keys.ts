/**
 * Epoch secrets and what they protect. Each epoch has a 32-byte random secret, sealed to every member device's
 * certified X25519 key with HPKE (RFC 9180 base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305;
 * `info` names the room and the epoch). The previous epoch's secret travels encrypted under the new one, so a
 * member's device can read older data; a removed member never receives the new secret.
 */
import { decode, encode, read } from '@kith/identity'
import { CipherSuite, HkdfSha256 } from '@hpke/core'
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305'
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { fromString } from 'uint8arrays/from-string'
import { lvCat } from './cpace.ts'
import { RoomError } from './errors.ts'
import type { EpochKeys, Lockbox } from './entries.ts'

export const EPOCH_SECRET_BYTES = 32
/** Sealed data: at most this much plaintext per message. */
export const MAX_SEALED_BYTES = 4 * 1024 * 1024
/** XChaCha20-Poly1305's nonce and tag. */
const NONCE_BYTES = 24
const TAG_BYTES = 16
/** An epoch number below 2^53 takes at most 8 varint bytes. */
const MAX_EPOCH_BYTES = 8

let suite: CipherSuite | undefined
const hpke = (): CipherSuite =>
  (suite ??= new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Chacha20Poly1305()
  }))

const label = (text: string): Uint8Array => fromString(text)
const buffer = (bytes: Uint8Array): ArrayBuffer => bytes.slice().buffer

function info(room: string, n: number): Uint8Array {
  return lvCat(label('kith/room/epoch/v1'), fromString(room), fromString(String(n)))
}

export function newEpochSecret(): Uint8Array {
  return randomBytes(EPOCH_SECRET_BYTES)
}

/** A recipient of an epoch secret: a member device and its certified X25519 key. */
export interface Recipient {
  device: Uint8Array
  enc: Uint8Array
}

/** Seals `secret` to one device. */
export async function sealTo(
  recipient: Recipient,
  secret: Uint8Array,
  room: string,
  n: number
): Promise<Lockbox> {
  const { enc, ct } = await hpke().seal(
    { recipientPublicKey: await hpke().kem.deserializePublicKey(buffer(recipient.enc)), info: info(room, n) },
    secret
  )
  return { device: recipient.device, enc: new Uint8Array(enc), ct: new Uint8Array(ct) }
}

/** Opens a lockbox with the device's X25519 secret. Throws `RoomError` (`NO_KEY`) if it is not this device's. */
export async function openLockbox(
  box: Lockbox,
  encSecret: Uint8Array,
  room: string,
  n: number
): Promise<Uint8Array> {
  try {
    const recipientKey = await hpke().kem.importKey('raw', buffer(encSecret), false)
    const secret = new Uint8Array(
      await hpke().open({ recipientKey, enc: buffer(box.enc), info: info(room, n) }, box.ct)
    )
    if (secret.byteLength !== EPOCH_SECRET_BYTES) throw new RoomError('NO_KEY', 'a lockbox holds 32 bytes')
    return secret
  } catch (err: unknown) {
    if (err instanceof RoomError) throw err
    throw new RoomError('NO_KEY', `epoch ${n}'s lockbox does not open with this device's key`, { cause: err })
  }
}

function previousKey(secret: Uint8Array, room: string, n: number): Uint8Array {
  return hkdf(
    sha256,
    secret,
    fromString(room),
    lvCat(label('kith/room/previous/v1'), fromString(String(n))),
    32
  )
}

/** A new epoch: `secret` sealed to each recipient, and the previous secret (if any) encrypted under it. */
export async function sealEpoch(
  init: { room: string; n: number; secret: Uint8Array; previous?: Uint8Array },
  recipients: Recipient[]
): Promise<EpochKeys> {
  const boxes = await Promise.all(recipients.map(async (r) => sealTo(r, init.secret, init.room, init.n)))
  if (init.previous == null) return { n: init.n, boxes }
  const nonce = randomBytes(24)
  const ct = xchacha20poly1305(previousKey(init.secret, init.room, init.n), nonce).encrypt(init.previous)
  return { n: init.n, boxes, previous: new Uint8Array([...nonce, ...ct]) }
}

/** Epoch `n - 1`'s secret from epoch `n`'s. */
export function openPrevious(sealed: Uint8Array, secret: Uint8Array, room: string, n: number): Uint8Array {
  try {
    return xchacha20poly1305(previousKey(secret, room, n), sealed.subarray(0, 24)).decrypt(
      sealed.subarray(24)
    )
  } catch (err: unknown) {
    throw new RoomError('NO_KEY', `epoch ${n - 1}'s secret does not open`, { cause: err })
  }
}

/** The data key of an epoch: what `seal`/`open` encrypt room data with. */
export function dataKey(secret: Uint8Array, room: string, n: number): Uint8Array {
  return hkdf(sha256, secret, fromString(room), lvCat(label('kith/room/data/v1'), fromString(String(n))), 32)
}

/** `{ n: epoch, x: nonce, c: ciphertext }` in DAG-CBOR; `aad` (e.g. a channel name) is bound but not carried. */
export function sealData(key: Uint8Array, n: number, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  if (plaintext.byteLength > MAX_SEALED_BYTES) {
    throw new RoomError('INVALID', `at most ${MAX_SEALED_BYTES} bytes are sealed at once`)
  }
  const nonce = randomBytes(24)
  return encode({ n, x: nonce, c: xchacha20poly1305(key, nonce, aad).encrypt(plaintext) })
}

/** The epoch a sealed message names, read before opening it. */
export function sealedEpoch(sealed: Uint8Array): { n: number; nonce: Uint8Array; ct: Uint8Array } {
  try {
    const map = read.map(decode(sealed, MAX_SEALED_BYTES + 1024), 'sealed data')
    read.keys(map, ['n', 'x', 'c'], 'sealed data')
    return { n: read.uint(map, 'n'), nonce: read.bytes(map, 'x', 24), ct: read.bytes(map, 'c') }
  } catch (err: unknown) {
    throw new RoomError('INVALID', `not sealed room data: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Sealed data in a binary layout, for messages on a hot path: the epoch as an unsigned varint, the 24-byte nonce,
 * then the XChaCha20-Poly1305 ciphertext — the same sealing as `sealData`, without a codec around it.
 */
export function sealPacked(key: Uint8Array, n: number, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  if (plaintext.byteLength > MAX_SEALED_BYTES) {
    throw new RoomError('INVALID', `at most ${MAX_SEALED_BYTES} bytes are sealed at once`)
  }
  if (!Number.isSafeInteger(n) || n < 0) throw new RoomError('INVALID', `epoch ${n} is not a whole number`)
  let prefix = 1
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) prefix++
  const out = new Uint8Array(prefix + NONCE_BYTES + plaintext.byteLength + TAG_BYTES)
  let at = 0
  let v = n
  for (; v >= 0x80; v = Math.floor(v / 0x80)) out[at++] = (v % 0x80) | 0x80
  out[at++] = v
  const nonce = out.subarray(at, at + NONCE_BYTES)
  nonce.set(freshNonce())
  xchacha20poly1305(key, nonce, aad).encrypt(plaintext, out.subarray(at + NONCE_BYTES))
  return out
}

/** Random nonces drawn from the system's generator in batches: one call per `NONCE_BATCH` messages sealed. */
const NONCE_BATCH = 128
const nonces = new Uint8Array(NONCE_BATCH * NONCE_BYTES)
let noncesUsed = NONCE_BATCH

/**
 * A random nonce no other call returns: a slice of a batch of random bytes, each used once. A call to the system's
 * generator costs more than the sealing of a small message when it is cold (an edit after a pause), so it is made
 * once per batch.
 */
function freshNonce(): Uint8Array {
  if (noncesUsed === NONCE_BATCH) {
    crypto.getRandomValues(nonces)
    noncesUsed = 0
  }
  const at = noncesUsed++ * NONCE_BYTES
  return nonces.subarray(at, at + NONCE_BYTES)
}

/** The epoch, nonce and ciphertext of `sealPacked`'s output, read before opening it (`RoomError` `INVALID`). */
export function packedEpoch(sealed: Uint8Array): { n: number; nonce: Uint8Array; ct: Uint8Array } {
  let n = 0
  let scale = 1
  let at = 0
  while (true) {
    const byte = sealed[at++]
    if (byte == null || at > MAX_EPOCH_BYTES)
      throw new RoomError('INVALID', 'not sealed room data: a bad epoch')
    n += (byte & 0x7f) * scale
    if (byte < 0x80) {
      if (byte === 0 && at > 1)
        throw new RoomError('INVALID', 'not sealed room data: an epoch not in its shortest form')
      if (!Number.isSafeInteger(n)) throw new RoomError('INVALID', 'not sealed room data: an epoch too large')
      break
    }
    scale *= 0x80
  }
  if (sealed.byteLength < at + NONCE_BYTES + TAG_BYTES)
    throw new RoomError('INVALID', 'not sealed room data: too short')
  if (sealed.byteLength > at + NONCE_BYTES + MAX_SEALED_BYTES + TAG_BYTES) {
    throw new RoomError('INVALID', `not sealed room data: more than ${MAX_SEALED_BYTES} bytes`)
  }
  return { n, nonce: sealed.subarray(at, at + NONCE_BYTES), ct: sealed.subarray(at + NONCE_BYTES) }
}

export function openData(
  key: Uint8Array,
  sealed: { nonce: Uint8Array; ct: Uint8Array },
  aad?: Uint8Array
): Uint8Array {
  try {
    return xchacha20poly1305(key, sealed.nonce, aad).decrypt(sealed.ct)
  } catch (err: unknown) {
    throw new RoomError('NO_KEY', 'the data does not open with this epoch key', { cause: err })
  }
}
