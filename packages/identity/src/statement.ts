import { ed25519 } from '@noble/curves/ed25519.js'
import { concat } from 'uint8arrays/concat'
import { fromString } from 'uint8arrays/from-string'
import { MAX_STATEMENT_BYTES, TYPE_PATTERN, VERSION } from './constants.ts'
import { decode, encode, read } from './encoding.ts'
import { InvalidEncodingError, InvalidParametersError, InvalidSignatureError } from './errors.ts'
import { verifyNative } from './native-ed25519.ts'

/**
 * Everything Kith signs, in one shape (encoded as canonical DAG-CBOR):
 * `{ v: 1, t: type, s: signer's Ed25519 public key, p: payload (DAG-CBOR bytes), g: signature, c?: certificate }`.
 * `c` is present when a device signs: the device certificate its user's root key issued.
 */
export interface Statement {
  v: number
  t: string
  s: Uint8Array
  p: Uint8Array
  g: Uint8Array
  c?: Statement
}

/** `kith/<type>/v1 ‖ 0x00 ‖ payload`: a signature for one type never verifies as another. */
export function signingInput(type: string, payload: Uint8Array): Uint8Array {
  return concat([fromString(`kith/${type}/v${VERSION}`), new Uint8Array([0]), payload])
}

export function assertType(type: string): void {
  if (!TYPE_PATTERN.test(type)) {
    throw new InvalidParametersError(
      `statement type "${type}" must be 1-32 lowercase letters, digits or dashes`
    )
  }
}

/** Signs `payload` (any DAG-CBOR value) as a statement of `type` with an Ed25519 secret key (32 bytes). */
export function createStatement(
  secretKey: Uint8Array,
  type: string,
  payload: unknown,
  certificate?: Statement
): Statement {
  assertType(type)
  const p = encode(payload)
  const statement: Statement = {
    v: VERSION,
    t: type,
    s: ed25519.getPublicKey(secretKey),
    p,
    g: ed25519.sign(signingInput(type, p), secretKey)
  }
  if (certificate != null) statement.c = certificate
  return statement
}

export function statementToBytes(statement: Statement): Uint8Array {
  return encode(statement)
}

/** Reads a statement's shape (not its signature): throws `InvalidEncodingError` or `TooLargeError`. */
export function statementFromBytes(bytes: Uint8Array, maxBytes = MAX_STATEMENT_BYTES): Statement {
  return statementFromValue(decode(bytes, maxBytes), 0)
}

function statementFromValue(value: unknown, depth: number): Statement {
  const map = read.map(value, 'statement')
  read.keys(map, ['v', 't', 's', 'p', 'g', 'c'], 'statement')
  if (read.uint(map, 'v') !== VERSION) throw new InvalidEncodingError(`statement version is not ${VERSION}`)
  const t = read.string(map, 't', 32)
  if (!TYPE_PATTERN.test(t)) throw new InvalidEncodingError('statement type is malformed')
  const statement: Statement = {
    v: VERSION,
    t,
    s: read.bytes(map, 's', 32),
    p: read.bytes(map, 'p'),
    g: read.bytes(map, 'g', 64)
  }
  if (map.c !== undefined) {
    // a certificate is signed by a root key and carries no certificate of its own
    if (depth > 0) throw new InvalidEncodingError('a certificate may not carry a certificate')
    statement.c = statementFromValue(map.c, depth + 1)
  }
  return statement
}

/** Checks the statement's signature under the strict RFC 8032 rule (the same in browsers and Node). */
export function checkSignature(statement: Statement): void {
  let valid: boolean
  try {
    valid = ed25519.verify(statement.g, signingInput(statement.t, statement.p), statement.s, {
      zip215: false
    })
  } catch {
    // a public key that is not a point on the curve
    valid = false
  }
  if (!valid) throw new InvalidSignatureError(`the ${statement.t} signature does not verify`)
}

/**
 * `checkSignature` through the platform's WebCrypto where it has Ed25519 (native code, a turn later; never more
 * lenient than the sync rule, see native-ed25519.ts), else the same as `checkSignature`.
 */
export async function checkSignatureAsync(statement: Statement): Promise<void> {
  const valid = await verifyNative(statement.g, signingInput(statement.t, statement.p), statement.s)
  if (valid === undefined) {
    checkSignature(statement)
    return
  }
  if (!valid) throw new InvalidSignatureError(`the ${statement.t} signature does not verify`)
}

/** The statement's payload, decoded canonically. */
export function payloadOf(statement: Statement): Record<string, unknown> {
  return read.map(decode(statement.p, MAX_STATEMENT_BYTES), `${statement.t} payload`)
}
