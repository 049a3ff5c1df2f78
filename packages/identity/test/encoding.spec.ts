import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decode, encode, InvalidEncodingError, TooLargeError } from '../src/index.ts'

const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 64 })
  ),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('node'), { maxKeys: 4 })
  )
})).node

describe('the canonical encoding', () => {
  it('should read back what it wrote, byte for byte', () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encode(v)
        expect(encode(decode(bytes, 1 << 20))).toEqual(bytes)
      })
    )
  })

  it('should refuse map keys out of canonical order', () => {
    // { "b": 1, "a": 2 } written by hand in the wrong order
    const bytes = new Uint8Array([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02])
    expect(() => decode(bytes, 100)).toThrow(expect.objectContaining({ name: InvalidEncodingError.name }))
  })

  it('should refuse an integer in a longer form than needed', () => {
    // 1 as a two-byte integer (0x18 0x01) instead of 0x01
    expect(() => decode(new Uint8Array([0x18, 0x01]), 100)).toThrow(
      expect.objectContaining({ name: InvalidEncodingError.name })
    )
  })

  it('should refuse input over the limit before parsing it', () => {
    expect(() => decode(encode('x'.repeat(200)), 100)).toThrow(
      expect.objectContaining({ name: TooLargeError.name })
    )
  })

  it('should answer any byte string with a value or a typed error, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          decode(bytes, 1024)
        } catch (err: unknown) {
          expect([InvalidEncodingError.name, TooLargeError.name]).toContain((err as Error).name)
        }
      }),
      { numRuns: 2_000 }
    )
  })
})
