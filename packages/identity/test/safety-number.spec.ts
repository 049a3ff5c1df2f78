import { ed25519 } from '@noble/curves/ed25519.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EMOJI, fingerprint, matchesSafetyNumberQr, safetyNumber } from '../src/index.ts'

const key = (): Uint8Array => ed25519.getPublicKey(ed25519.utils.randomSecretKey())

describe('safety numbers', () => {
  const a = key()
  const b = key()

  it('should be 60 digits in 12 groups, with 12 emoji from the 64-entry table', () => {
    const number = safetyNumber(a, b)
    expect(number.digits).toMatch(/^\d{60}$/)
    expect(number.groups).toHaveLength(12)
    expect(number.emoji).toHaveLength(12)
    for (const e of number.emoji) expect(EMOJI.map(([symbol]) => symbol)).toContain(e.emoji)
  })

  it('should look the same to both people', () => {
    expect(safetyNumber(a, b)).toEqual(safetyNumber(b, a))
  })

  it('should change when either key changes by one bit', () => {
    fc.assert(
      fc.property(fc.nat(255), (bit) => {
        const changed = new Uint8Array(b)
        changed[bit >> 3] = changed[bit >> 3]! ^ (1 << (bit & 7))
        expect(safetyNumber(a, changed).digits).not.toBe(safetyNumber(a, b).digits)
      }),
      { numRuns: 20 }
    )
  })

  it('should take a user fingerprint of 64 bytes that depends on nothing but the root key', () => {
    expect(fingerprint(a)).toHaveLength(64)
    expect(fingerprint(a)).toEqual(fingerprint(new Uint8Array(a)))
  })

  it('should match a scanned QR code of the same pair and no other', () => {
    const number = safetyNumber(a, b)
    expect(matchesSafetyNumberQr(number.qr, b, a)).toBe(true)
    expect(matchesSafetyNumberQr(number.qr, a, key())).toBe(false)
    expect(matchesSafetyNumberQr(new Uint8Array([1, 2, 3]), a, b)).toBe(false)
  })
})
