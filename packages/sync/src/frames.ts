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

/** Frame types on the wire: the first byte of a frame. */
const TYPE_CODES = { sv: 1, s2: 2, u: 3, a: 4 } as const
/** The largest number a frame field carries: 2^53 - 1 fits in 8 varint bytes. */
const MAX_VARINT_BYTES = 8
const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * A frame in the sync protocol's binary layout (PROTOCOL.md, "Frames"): one type byte, then the fields in a fixed
 * order — strings and the signature with a varint length, numbers as minimal unsigned varints, and the payload
 * (`v` or `b`) last, taking the rest of the frame. One allocation, no general-purpose codec on the edit path.
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const name = utf8.encode(frame.t === 'a' ? frame.o : frame.d)
  const origin = frame.t === 'u' ? utf8.encode(frame.o) : undefined
  const payload = frame.t === 'sv' ? frame.v : frame.b
  let size = 1 + varintLength(name.byteLength) + name.byteLength + payload.byteLength
  if (frame.t === 'sv') size += varintLength(frame.q)
  else if (frame.t === 's2') size += varintLength(frame.x) + varintLength(frame.n) + varintLength(frame.o)
  else if (frame.t === 'u' && origin != null) {
    size += varintLength(origin.byteLength) + origin.byteLength + 1 + frame.s.byteLength
  }
  const out = new Uint8Array(size)
  let at = 0
  out[at++] = TYPE_CODES[frame.t]
  at = writeVarint(out, at, name.byteLength)
  out.set(name, at)
  at += name.byteLength
  if (frame.t === 'sv') at = writeVarint(out, at, frame.q)
  else if (frame.t === 's2') {
    at = writeVarint(out, at, frame.x)
    at = writeVarint(out, at, frame.n)
    at = writeVarint(out, at, frame.o)
  } else if (frame.t === 'u' && origin != null) {
    at = writeVarint(out, at, origin.byteLength)
    out.set(origin, at)
    at += origin.byteLength
    out[at++] = frame.s.byteLength
    out.set(frame.s, at)
    at += frame.s.byteLength
  }
  out.set(payload, at)
  return out
}

/** Decodes and checks a frame; anything else is a `SyncError` (`MALFORMED` or `TOO_LARGE`). */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.byteLength > MAX_FRAME_BYTES) {
    throw new SyncError('TOO_LARGE', `a sync message of ${bytes.byteLength} bytes`)
  }
  const reader = new Reader(bytes)
  const code = reader.byte('type')
  if (code === TYPE_CODES.a) {
    const o = reader.string('origin', MAX_ORIGIN_LENGTH)
    const b = reader.rest()
    if (b.byteLength > MAX_AWARENESS_BYTES) throw new SyncError('TOO_LARGE', 'an awareness update too large')
    return { t: 'a', o, b }
  }
  const d = reader.string('document name', MAX_DOC_NAME_LENGTH)
  if (!isDocName(d)) throw new SyncError('MALFORMED', 'a bad document name')
  if (code === TYPE_CODES.sv) {
    const q = reader.varint('flags')
    if (q > 3) throw new SyncError('MALFORMED', 'unknown state vector flags')
    return { t: 'sv', d, v: reader.rest(), q }
  }
  if (code === TYPE_CODES.s2) {
    const x = reader.varint('transfer')
    const n = reader.varint('total')
    const o = reader.varint('offset')
    const b = reader.rest()
    if (b.byteLength > CHUNK_BYTES || o + b.byteLength > n) {
      throw new SyncError('MALFORMED', 'a catch-up chunk outside its transfer')
    }
    return { t: 's2', d, x, n, o, b }
  }
  if (code === TYPE_CODES.u) {
    const o = reader.string('origin', MAX_ORIGIN_LENGTH)
    const length = reader.byte('signature length')
    if (length !== 0 && length !== SIGNATURE_BYTES) {
      throw new SyncError('MALFORMED', `a signature of ${length} bytes; ${SIGNATURE_BYTES}, or none`)
    }
    const s = reader.bytes('signature', length)
    const b = reader.rest()
    if (b.byteLength > MAX_UPDATE_BYTES) throw new SyncError('TOO_LARGE', 'an update too large to push')
    return { t: 'u', d, o, s, b }
  }
  throw new SyncError('MALFORMED', `unknown sync message type ${code}`)
}

function varintLength(value: number): number {
  let length = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    length++
  }
  return length
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value % 0x80) | 0x80
    value = Math.floor(value / 0x80)
  }
  out[at++] = value
  return at
}

/** Reads a frame's fields in order; every read past the end, and every non-minimal varint, is `MALFORMED`. */
class Reader {
  private at = 0

  constructor(private readonly input: Uint8Array) {}

  byte(what: string): number {
    const value = this.input[this.at++]
    if (value == null) throw new SyncError('MALFORMED', `a sync message cut short before its ${what}`)
    return value
  }

  varint(what: string): number {
    let value = 0
    let scale = 1
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const byte = this.byte(what)
      value += (byte & 0x7f) * scale
      if (byte < 0x80) {
        // the shortest form only: one value, one encoding
        if (byte === 0 && i > 0) throw new SyncError('MALFORMED', `a ${what} not in its shortest form`)
        if (!Number.isSafeInteger(value)) throw new SyncError('MALFORMED', `a ${what} too large`)
        return value
      }
      scale *= 0x80
    }
    throw new SyncError('MALFORMED', `a ${what} too large`)
  }

  bytes(what: string, length: number): Uint8Array {
    if (this.at + length > this.input.byteLength) {
      throw new SyncError('MALFORMED', `a sync message cut short in its ${what}`)
    }
    const value = this.input.subarray(this.at, this.at + length)
    this.at += length
    return value
  }

  /** A string of at most `maxLength` UTF-16 units, in valid UTF-8. */
  string(what: string, maxLength: number): string {
    const length = this.varint(what)
    // a UTF-16 unit takes at most 3 bytes of UTF-8
    if (length > 3 * maxLength) throw new SyncError('MALFORMED', `a ${what} longer than ${maxLength}`)
    let value: string
    try {
      value = utf8Strict.decode(this.bytes(what, length))
    } catch (err: unknown) {
      throw new SyncError('MALFORMED', `a ${what} that is not UTF-8`, { cause: err })
    }
    if (value.length > maxLength) throw new SyncError('MALFORMED', `a ${what} longer than ${maxLength}`)
    return value
  }

  rest(): Uint8Array {
    const value = this.input.subarray(this.at)
    this.at = this.input.byteLength
    return value
  }
}
