import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { decode, encode, read } from './encoding.ts'
import { InvalidEncodingError } from './errors.ts'

/**
 * `base` with `value` in its fragment: `<base without fragment>#<key>=<base64url(canonical DAG-CBOR)>`. Browsers
 * never send a fragment to a server, which is why Kith's pairing and invite links carry their secrets there.
 */
export function fragmentLink(base: string, key: string, value: unknown): string {
  return `${base.split('#')[0] ?? base}#${key}=${toString(encode(value), 'base64url')}`
}

/**
 * The map in a link made by {@link fragmentLink} (the whole link or its fragment), or undefined when the fragment
 * is not `<key>=…`. Throws `InvalidEncodingError` for a payload that is damaged, not canonical or too long.
 */
export function readFragment(
  link: string,
  key: string,
  maxBytes: number
): Record<string, unknown> | undefined {
  const fragment = link.includes('#') ? link.slice(link.indexOf('#') + 1) : link
  if (!fragment.startsWith(`${key}=`)) return undefined
  const encoded = fragment.slice(key.length + 1)
  // base64url grows by 4/3: refuse a long text before decoding it
  if (encoded.length > Math.ceil((maxBytes * 4) / 3)) throw new InvalidEncodingError('the link is too long')
  let bytes: Uint8Array
  try {
    bytes = fromString(encoded, 'base64url')
  } catch (err: unknown) {
    throw new InvalidEncodingError('the link is damaged (it may have been cut off)', { cause: err })
  }
  return read.map(decode(bytes, maxBytes), 'link')
}
