// Ed25519 edge cases in the categories of Project Wycheproof's EdDSA tests (special values of R and S, malleability,
// truncation, appended garbage, non-canonical encodings, small-order keys), built here from the curve's constants and
// run through Kith's one signature check, so browsers and Node refuse exactly the same signatures.
import { ed25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import { createStatement, InvalidSignatureError, statementFromBytes, statementToBytes } from '../src/index.ts'
import { checkSignature } from '../src/statement.ts'
import type { Statement } from '../src/index.ts'

const L = 2n ** 252n + 27742317777372353535851937790883648493n
const P = 2n ** 255n - 19n

const le = (n: bigint, bytes = 32): Uint8Array => {
  const out = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn)
  return out
}
const fromLe = (b: Uint8Array): bigint => b.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n)
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Encodings of the eight points of small order (the identity, the point of order 2, those of order 4 and 8). */
const SMALL_ORDER = [
  le(1n), // identity
  le(P - 1n), // order 2: y = -1
  le(0n), // order 4: y = 0, x > 0
  le(0n | (1n << 255n)), // order 4: y = 0, x < 0
  Uint8Array.from(Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex')), // order 8
  Uint8Array.from(Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', 'hex')),
  Uint8Array.from(Buffer.from('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'hex')),
  Uint8Array.from(Buffer.from('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', 'hex'))
]

const secret = ed25519.utils.randomSecretKey()
const valid: Statement = createStatement(secret, 'note', { text: 'vectors' })
const R = valid.g.subarray(0, 32)
const S = valid.g.subarray(32)

interface Vector {
  flag: string
  comment: string
  s?: Uint8Array
  g: Uint8Array
  result: 'valid' | 'invalid'
}

const vectors: Vector[] = [
  { flag: 'Valid', comment: 'the signature as made', g: valid.g, result: 'valid' },
  ...[0n, 1n, L - 1n, L, L + 1n, P - 1n, P, 2n ** 255n - 1n].flatMap((r) =>
    [0n, 1n, L - 1n, L, L + 1n, 2n ** 256n - 1n].map((s): Vector => ({
      flag: 'InvalidSignature',
      comment: `special values: R = ${r === 0n ? '0' : r === 1n ? '1' : r > L + 1n ? 'p-ish' : 'L-ish'}, S = ${s.toString(16).slice(0, 6)}…`,
      g: concat(le(r), le(s)),
      result: 'invalid'
    }))
  ),
  { flag: 'SignatureMalleability', comment: 'S + L', g: concat(R, le(fromLe(S) + L)), result: 'invalid' },
  {
    flag: 'SignatureMalleability',
    comment: 'S + 2L',
    g: concat(R, le(fromLe(S) + 2n * L)),
    result: 'invalid'
  },
  {
    flag: 'SignatureMalleability',
    comment: 'S + 8L',
    g: concat(R, le(fromLe(S) + 8n * L)),
    result: 'invalid'
  },
  {
    flag: 'SignatureMalleability',
    comment: 'top bit of S set',
    g: concat(R, le(fromLe(S) | (1n << 255n))),
    result: 'invalid'
  },
  {
    flag: 'InvalidEncoding',
    comment: 'R with the sign bit flipped',
    g: concat(le(fromLe(R) ^ (1n << 255n)), S),
    result: 'invalid'
  },
  {
    flag: 'InvalidEncoding',
    comment: 'R with y ≥ p (y + p, non-canonical)',
    g: concat(le((fromLe(R) & ((1n << 255n) - 1n)) + P), S),
    result: 'invalid'
  },
  { flag: 'TruncatedSignature', comment: '63 bytes', g: valid.g.subarray(0, 63), result: 'invalid' },
  { flag: 'TruncatedSignature', comment: 'R only', g: valid.g.subarray(0, 32), result: 'invalid' },
  { flag: 'TruncatedSignature', comment: 'empty', g: new Uint8Array(0), result: 'invalid' },
  {
    flag: 'SignatureWithGarbage',
    comment: 'one byte appended',
    g: concat(valid.g, new Uint8Array([0])),
    result: 'invalid'
  },
  { flag: 'SignatureWithGarbage', comment: 'S and R swapped', g: concat(S, R), result: 'invalid' },
  ...SMALL_ORDER.flatMap((point, i) => [
    {
      flag: 'SmallOrderKey',
      comment: `small-order public key ${i} with R = identity, S = 0`,
      s: point,
      g: concat(le(1n), le(0n)),
      result: 'invalid' as const
    },
    {
      flag: 'SmallOrderKey',
      comment: `small-order public key ${i} with R = the same point, S = 0`,
      s: point,
      g: concat(point, le(0n)),
      result: 'invalid' as const
    }
  ]),
  ...SMALL_ORDER.map((point, i): Vector => ({
    flag: 'SmallOrderR',
    comment: `R = small-order point ${i}, S = 0, genuine key`,
    g: concat(point, le(0n)),
    result: 'invalid'
  }))
]

describe('Ed25519 edge cases (Wycheproof categories) through the one signature check', () => {
  it.each(vectors.map((v, i) => ({ ...v, id: i + 1 })))('#$id $flag: $comment → $result', (vector) => {
    const statement: Statement = { ...valid, g: vector.g, ...(vector.s != null ? { s: vector.s } : {}) }
    if (vector.result === 'valid') {
      expect(() => checkSignature(statement)).not.toThrow()
      return
    }
    expect(() => checkSignature(statement)).toThrow(InvalidSignatureError)
    // and the encoded statement is refused before or at the signature, never accepted
    let bytes: Uint8Array | undefined
    try {
      bytes = statementToBytes(statement)
    } catch {
      return
    }
    expect(() => checkSignature(statementFromBytes(bytes))).toThrow()
  })
})
