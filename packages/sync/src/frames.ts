import { decode, encode, read } from '@kith/identity'
import { SyncError } from './errors.ts'

/** The largest message on a sync stream, sealed, in bytes. A catch-up is cut into chunks well below it. */
export const MAX_FRAME_BYTES = 256 * 1024
/** The size of a catch-up chunk before sealing. */
export const CHUNK_BYTES = 64 * 1024
/** An incremental update larger than this is not pushed; peers pull it by state vector, in chunks. */
export const MAX_UPDATE_BYTES = 128 * 1024
export const MAX_AWARENESS_BYTES = 32 * 1024
export const MAX_DOC_NAME_LENGTH = 64
export const MAX_ORIGIN_LENGTH = 128
/** An Ed25519 signature; an update's `s` is this long, or empty (unsigned, straight from its author). */
export const SIGNATURE_BYTES = 64
const DOC_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * What travels inside a sealed sync message (PROTOCOL.md has the wire format):
 * - `sv`: a document's state vector. `q` bit 0: "send me what I lack" (sync step 1); bit 1: "send me yours".
 * - `s2`: one chunk of what the other side lacks (sync step 2): transfer `x`, total bytes `n`, offset `o`.
 * - `u`: an incremental update `b`, signed by the device `o` that made it (`s`), forwarded unchanged; or unsigned
 *   (`s` empty), sent only by `o` itself to a device it is linked to, and never forwarded.
 * - `a`: an awareness update for the room (presence, cursors), from device `o`.
 */
export type Frame =
  | { t: 'sv'; d: string; v: Uint8Array; q: number }
  | { t: 's2'; d: string; x: number; n: number; o: number; b: Uint8Array }
  | { t: 'u'; d: string; o: string; s: Uint8Array; b: Uint8Array }
  | { t: 'a'; o: string; b: Uint8Array }

export const WANT_UPDATE = 1
export const WANT_VECTOR = 2

export function isDocName(name: string): boolean {
  return name.length <= MAX_DOC_NAME_LENGTH && DOC_NAME.test(name)
}

export function encodeFrame(frame: Frame): Uint8Array {
  return encode(frame)
}

/** Decodes and checks a frame; anything else is a `SyncError` (`MALFORMED` or `TOO_LARGE`). */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.byteLength > MAX_FRAME_BYTES) {
    throw new SyncError('TOO_LARGE', `a sync message of ${bytes.byteLength} bytes`)
  }
  try {
    const map = read.map(decode(bytes, MAX_FRAME_BYTES), 'sync message')
    const t = read.string(map, 't', 2)
    if (t === 'a') {
      read.keys(map, ['t', 'o', 'b'], 'awareness message')
      const b = read.bytes(map, 'b')
      if (b.byteLength > MAX_AWARENESS_BYTES)
        throw new SyncError('TOO_LARGE', 'an awareness update too large')
      return { t, o: read.string(map, 'o', MAX_ORIGIN_LENGTH), b }
    }
    const d = read.string(map, 'd', MAX_DOC_NAME_LENGTH)
    if (!isDocName(d)) throw new SyncError('MALFORMED', 'a bad document name')
    if (t === 'sv') {
      read.keys(map, ['t', 'd', 'v', 'q'], 'state vector message')
      const q = read.uint(map, 'q')
      if (q > 3) throw new SyncError('MALFORMED', 'unknown state vector flags')
      return { t, d, v: read.bytes(map, 'v'), q }
    }
    if (t === 's2') {
      read.keys(map, ['t', 'd', 'x', 'n', 'o', 'b'], 'catch-up chunk')
      const frame = {
        t,
        d,
        x: read.uint(map, 'x'),
        n: read.uint(map, 'n'),
        o: read.uint(map, 'o'),
        b: read.bytes(map, 'b')
      } as const
      if (frame.b.byteLength > CHUNK_BYTES || frame.o + frame.b.byteLength > frame.n) {
        throw new SyncError('MALFORMED', 'a catch-up chunk outside its transfer')
      }
      return frame
    }
    if (t === 'u') {
      read.keys(map, ['t', 'd', 'o', 's', 'b'], 'update message')
      const b = read.bytes(map, 'b')
      if (b.byteLength > MAX_UPDATE_BYTES) throw new SyncError('TOO_LARGE', 'an update too large to push')
      const s = read.bytes(map, 's')
      if (s.byteLength !== 0 && s.byteLength !== SIGNATURE_BYTES) {
        throw new SyncError('MALFORMED', `a signature of ${s.byteLength} bytes; ${SIGNATURE_BYTES}, or none`)
      }
      return { t, d, o: read.string(map, 'o', MAX_ORIGIN_LENGTH), s, b }
    }
    throw new SyncError('MALFORMED', `unknown sync message "${t}"`)
  } catch (err: unknown) {
    if (err instanceof SyncError) throw err
    throw new SyncError('MALFORMED', `not a sync message: ${(err as Error).message}`, { cause: err })
  }
}
