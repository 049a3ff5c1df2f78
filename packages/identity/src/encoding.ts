import * as dagCbor from '@ipld/dag-cbor'
import { equals } from 'uint8arrays/equals'
import { InvalidEncodingError, TooLargeError } from './errors.ts'

/** The one canonical encoding of every signed thing: deterministic DAG-CBOR. */
export function encode(value: unknown): Uint8Array {
  return dagCbor.encode(value)
}

/**
 * Decodes DAG-CBOR and insists it was canonical: the bytes must be exactly what `encode` makes of the result, so
 * one value has one signed form and nothing can be smuggled in alternative encodings.
 */
export function decode(bytes: Uint8Array, maxBytes: number): unknown {
  if (!(bytes instanceof Uint8Array)) throw new InvalidEncodingError('expected bytes')
  if (bytes.byteLength > maxBytes)
    throw new TooLargeError(`${bytes.byteLength} bytes is more than ${maxBytes}`)
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err: unknown) {
    throw new InvalidEncodingError('not DAG-CBOR', { cause: err })
  }
  if (!equals(dagCbor.encode(value), bytes)) throw new InvalidEncodingError('not in canonical form')
  return value
}

/** Field readers for decoded maps: each throws `InvalidEncodingError` naming the field. */
export const read = {
  map(value: unknown, what: string): Record<string, unknown> {
    if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
      throw new InvalidEncodingError(`${what} is not a map`)
    }
    return value as Record<string, unknown>
  },
  bytes(map: Record<string, unknown>, key: string, length?: number): Uint8Array {
    const value = map[key]
    if (!(value instanceof Uint8Array)) throw new InvalidEncodingError(`${key} is not bytes`)
    if (length != null && value.byteLength !== length) {
      throw new InvalidEncodingError(`${key} has ${value.byteLength} bytes, not ${length}`)
    }
    return value
  },
  string(map: Record<string, unknown>, key: string, maxLength: number): string {
    const value = map[key]
    if (typeof value !== 'string' || value.length > maxLength) {
      throw new InvalidEncodingError(`${key} is not a string of at most ${maxLength} characters`)
    }
    return value
  },
  /** An array of at most `maxItems` strings, each at most `maxLength` characters. */
  strings(map: Record<string, unknown>, key: string, maxItems: number, maxLength: number): string[] {
    const value = map[key]
    if (
      !Array.isArray(value) ||
      value.length > maxItems ||
      value.some((item) => typeof item !== 'string' || item.length > maxLength)
    ) {
      throw new InvalidEncodingError(`${key} is not a list of at most ${maxItems} strings`)
    }
    return value as string[]
  },
  uint(map: Record<string, unknown>, key: string): number {
    const value = map[key]
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new InvalidEncodingError(`${key} is not a non-negative integer`)
    }
    return value
  },
  keys(map: Record<string, unknown>, allowed: string[], what: string): void {
    for (const key of Object.keys(map)) {
      if (!allowed.includes(key)) throw new InvalidEncodingError(`${what} has an unknown field "${key}"`)
    }
  }
}
