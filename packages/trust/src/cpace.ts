/**
 * CPace over ristretto255 with SHA-512, as specified by draft-irtf-cfrg-cpace (the variant with `lv_cat` and the
 * `transcript_ir` / `transcript_oc` transcripts), on @noble/curves' ristretto255 and @noble/hashes' SHA-512.
 *
 * Two parties who share a low-entropy password (a PIN, with the invite's secret) derive the same key, or keys that
 * differ; an active attacker gets one guess per run, a passive one nothing. Callers confirm the key (a MAC each way)
 * before trusting it.
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { concat } from 'uint8arrays/concat'

export const CPACE_DSI = new TextEncoder().encode('CPaceRistretto255')
export const CPACE_DSI_ISK = new TextEncoder().encode('CPaceRistretto255_ISK')
/** SHA-512's input block size, `H.s_in_bytes`. */
export const CPACE_S_IN_BYTES = 128
/** Encoded ristretto255 points. */
export const CPACE_POINT_BYTES = 32

const { Point } = ristretto255
const L = Point.Fn.ORDER
const IDENTITY = new Uint8Array(CPACE_POINT_BYTES)

/** A peer's share that is not a valid point, or that makes the shared secret the neutral element. */
export class CPaceError extends Error {
  static override name = 'CPaceError'
  constructor(message = 'CPace failed') {
    super(message)
    this.name = 'CPaceError'
  }
}

/** `prepend_len`: the length in LEB128, then the bytes. */
export function prependLen(data: Uint8Array): Uint8Array {
  const length: number[] = []
  let n = data.byteLength
  do {
    length.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0))
    n >>>= 7
  } while (n > 0)
  return concat([Uint8Array.from(length), data])
}

/** `lv_cat`: each part with its length prepended. */
export function lvCat(...parts: Uint8Array[]): Uint8Array {
  return concat(parts.map(prependLen))
}

/** `generator_string(DSI, PRS, CI, sid, s_in_bytes)`: the password padded to fill SHA-512's first block. */
export function generatorString(
  dsi: Uint8Array,
  prs: Uint8Array,
  ci: Uint8Array,
  sid: Uint8Array
): Uint8Array {
  const zpad = Math.max(0, CPACE_S_IN_BYTES - 1 - prependLen(prs).byteLength - prependLen(dsi).byteLength)
  return lvCat(dsi, prs, new Uint8Array(zpad), ci, sid)
}

/** `calculate_generator`: the session's generator, derived from the password and the session's identity. */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Uint8Array {
  // RFC 9496's element derivation from 64 uniform bytes (ristretto255's one-way map)
  if (ristretto255_hasher.deriveToCurve == null) {
    throw new CPaceError('this @noble/curves has no ristretto255 element derivation')
  }
  return ristretto255_hasher.deriveToCurve(sha512(generatorString(CPACE_DSI, prs, ci, sid))).toBytes()
}

function scalarFrom(bytes: Uint8Array): bigint {
  if (bytes.byteLength !== 32) throw new CPaceError('a scalar has 32 bytes')
  let n = 0n
  for (let i = bytes.byteLength - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0)
  return n % L
}

/** `sample_scalar`: 32 little-endian bytes of a uniformly random non-zero scalar. */
export function sampleScalar(): Uint8Array {
  for (;;) {
    const wide = randomBytes(64)
    let n = 0n
    for (let i = wide.byteLength - 1; i >= 0; i--) n = (n << 8n) | BigInt(wide[i] ?? 0)
    n %= L
    if (n === 0n) continue
    const out = new Uint8Array(32)
    for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn)
    return out
  }
}

/** `scalar_mult(y, g)`: the share `Y = y·g`. */
export function scalarMult(y: Uint8Array, g: Uint8Array): Uint8Array {
  return Point.fromBytes(g).multiply(scalarFrom(y)).toBytes()
}

/**
 * `scalar_mult_vfy(y, X)`: `y·X`, or the encoding of the neutral element when `X` is not a valid encoding or the
 * product is neutral. Callers abort on the neutral element.
 */
export function scalarMultVfy(y: Uint8Array, x: Uint8Array): Uint8Array {
  let point: InstanceType<typeof Point>
  try {
    point = Point.fromBytes(x)
  } catch {
    return IDENTITY.slice()
  }
  const product = point.multiply(scalarFrom(y))
  return product.is0() ? IDENTITY.slice() : product.toBytes()
}

/** The initiator-responder transcript: `lv_cat(Ya, ADa) ‖ lv_cat(Yb, ADb)`. */
export function transcriptIr(ya: Uint8Array, adA: Uint8Array, yb: Uint8Array, adB: Uint8Array): Uint8Array {
  return concat([lvCat(ya, adA), lvCat(yb, adB)])
}

function lexicographicallyLarger(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.min(a.byteLength, b.byteLength)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return a.byteLength > b.byteLength
}

/** The ordered transcript for parties without roles: `"oc" ‖` the two `lv_cat`s, larger first. */
export function transcriptOc(ya: Uint8Array, adA: Uint8Array, yb: Uint8Array, adB: Uint8Array): Uint8Array {
  const a = lvCat(ya, adA)
  const b = lvCat(yb, adB)
  return concat([new TextEncoder().encode('oc'), ...(lexicographicallyLarger(a, b) ? [a, b] : [b, a])])
}

/** The intermediate session key: `SHA-512(lv_cat(DSI_ISK, sid, K) ‖ transcript)`. */
export function deriveIsk(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Uint8Array {
  return sha512(concat([lvCat(CPACE_DSI_ISK, sid, k), transcript]))
}

export interface CPaceInit {
  /** The password-related string (PIN and secret, already combined by the caller). */
  prs: Uint8Array
  /** Channel identifier: binds the session to both parties (e.g. both peer ids). */
  ci: Uint8Array
  /** Session id, fresh for each run (e.g. 16 random bytes chosen by the initiator). */
  sid: Uint8Array
  /** Associated data this party sends with its share. */
  ad: Uint8Array
  role: 'initiator' | 'responder'
}

/** One party of one CPace run: send `share` (and `ad`), then feed the other's into `finish`. */
export class CPaceSession {
  /** This party's share `Y`, 32 bytes. */
  readonly share: Uint8Array
  private readonly scalar: Uint8Array
  private readonly init: CPaceInit
  private finished = false

  /** `scalar` is for test vectors only: leave it out. */
  constructor(init: CPaceInit, scalar: Uint8Array = sampleScalar()) {
    this.init = init
    this.scalar = scalar
    this.share = scalarMult(scalar, calculateGenerator(init.prs, init.ci, init.sid))
  }

  /** The shared key (64 bytes) from the other party's share and data. Throws `CPaceError` on an invalid share. */
  finish(peerShare: Uint8Array, peerAd: Uint8Array): Uint8Array {
    if (this.finished) throw new CPaceError('a CPace session derives one key')
    this.finished = true
    if (peerShare.byteLength !== CPACE_POINT_BYTES) throw new CPaceError('a share has 32 bytes')
    const k = scalarMultVfy(this.scalar, peerShare)
    if (k.every((b) => b === 0)) throw new CPaceError('the other share is invalid or neutral')
    const { ad, role, sid } = this.init
    const transcript =
      role === 'initiator'
        ? transcriptIr(this.share, ad, peerShare, peerAd)
        : transcriptIr(peerShare, peerAd, this.share, ad)
    this.scalar.fill(0)
    return deriveIsk(sid, k, transcript)
  }
}
