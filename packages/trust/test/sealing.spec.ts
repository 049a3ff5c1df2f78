import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  dataKey,
  newEpochSecret,
  openData,
  packedEpoch,
  RoomError,
  sealData,
  sealedEpoch,
  sealPacked
} from '../src/index.ts'

const key = dataKey(newEpochSecret(), 'room', 3)
const aad = new TextEncoder().encode('kith/test\nroom')

function errorCode(run: () => unknown): string {
  try {
    run()
    return 'accepted'
  } catch (err) {
    expect(err).toBeInstanceOf(RoomError)
    return (err as RoomError).code
  }
}

describe('sealed room data', () => {
  it('opens what it sealed, in both layouts, for any epoch and plaintext (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.maxSafeNat(), (plaintext, n) => {
        const packed = packedEpoch(sealPacked(key, n, plaintext, aad))
        expect(packed.n).toBe(n)
        expect(openData(key, packed, aad)).toEqual(plaintext)
        const cbor = sealedEpoch(sealData(key, n, plaintext, aad))
        expect(cbor.n).toBe(n)
        expect(openData(key, cbor, aad)).toEqual(plaintext)
      }),
      { numRuns: 300 }
    )
  })

  it('never seals two messages under the same nonce, across the batches nonces are drawn in', () => {
    const nonces = new Set<string>()
    const count = 1000
    for (let i = 0; i < count; i++) {
      const { nonce } = packedEpoch(sealPacked(key, 3, new Uint8Array([i & 0xff]), aad))
      nonces.add(Buffer.from(nonce).toString('hex'))
    }
    expect(nonces.size).toBe(count)
  })

  it('refuses another key, another context and any changed byte with NO_KEY', () => {
    const sealed = sealPacked(key, 3, new TextEncoder().encode('hello'), aad)
    const other = dataKey(newEpochSecret(), 'room', 3)
    expect(errorCode(() => openData(other, packedEpoch(sealed), aad))).toBe('NO_KEY')
    expect(errorCode(() => openData(key, packedEpoch(sealed)))).toBe('NO_KEY')
    expect(errorCode(() => openData(key, packedEpoch(sealed), new TextEncoder().encode('kith/other')))).toBe(
      'NO_KEY'
    )
    // every byte past the epoch is under the tag (a changed epoch picks another epoch's key, which opens nothing)
    for (let at = 1; at < sealed.byteLength; at++) {
      const changed = sealed.slice()
      changed[at] = (changed[at] ?? 0) ^ 0x01
      expect(errorCode(() => openData(key, packedEpoch(changed), aad))).toBe('NO_KEY')
    }
  })

  it('refuses a bad epoch, a short message and a bad epoch number to seal with INVALID', () => {
    const body = new Uint8Array(24 + 16)
    expect(errorCode(() => packedEpoch(new Uint8Array([3, ...body])))).toBe('accepted')
    expect(errorCode(() => packedEpoch(new Uint8Array([])))).toBe('INVALID')
    expect(errorCode(() => packedEpoch(new Uint8Array([3, ...body.subarray(1)])))).toBe('INVALID')
    // not the shortest form of 3; an epoch of nine bytes; one that never ends
    expect(errorCode(() => packedEpoch(new Uint8Array([0x83, 0x00, ...body])))).toBe('INVALID')
    expect(
      errorCode(() => packedEpoch(new Uint8Array([...new Array<number>(8).fill(0xff), 1, ...body])))
    ).toBe('INVALID')
    expect(errorCode(() => packedEpoch(new Uint8Array(40).fill(0x80)))).toBe('INVALID')
    // 2^53 does not fit a safe integer
    expect(
      errorCode(() => packedEpoch(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, ...body])))
    ).toBe('INVALID')
    expect(errorCode(() => sealPacked(key, -1, new Uint8Array(1)))).toBe('INVALID')
    expect(errorCode(() => sealPacked(key, 1.5, new Uint8Array(1)))).toBe('INVALID')
  })

  it('reads random bytes as a RoomError or an epoch, never anything else (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
        try {
          const { n, nonce, ct } = packedEpoch(bytes)
          expect(Number.isSafeInteger(n)).toBe(true)
          expect(nonce.byteLength).toBe(24)
          expect(ct.byteLength).toBeGreaterThanOrEqual(16)
          expect(errorCode(() => openData(key, { nonce, ct }, aad))).toBe('NO_KEY')
        } catch (err) {
          expect(err).toBeInstanceOf(RoomError)
        }
      }),
      { numRuns: 2000 }
    )
  })
})
