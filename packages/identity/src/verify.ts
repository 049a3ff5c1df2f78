import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { equals } from 'uint8arrays/equals'
import { toString } from 'uint8arrays/to-string'
import { MAX_STATEMENT_BYTES } from './constants.ts'
import { read } from './encoding.ts'
import {
  InvalidEncodingError,
  RevokedDeviceError,
  UncertifiedDeviceError,
  UnexpectedSignerError,
  WrongTypeError
} from './errors.ts'
import { readDeviceCertificate, readDeviceRevocation } from './certificates.ts'
import {
  assertType,
  checkSignature,
  checkSignatureAsync,
  payloadOf,
  statementFromBytes
} from './statement.ts'
import type { Statement } from './statement.ts'
import type { PeerId } from '@libp2p/interface'

/** What the verifier knows about revoked devices (from the user's device chain, a contact book, a room log). */
export interface DeviceStatus {
  isRevoked(user: Uint8Array, device: Uint8Array): boolean
}

export interface VerifyOptions {
  /** The statement type the caller expects; any other is refused. */
  type: string
  /** Revoked devices. Without it, no device counts as revoked. */
  devices?: DeviceStatus
  /** For a direct message: the peer it arrived from, which must be the signing device. */
  from?: PeerId
  /** @default 65_536 */
  maxBytes?: number
}

/** A statement that passed every check. */
export interface Verified<T = unknown> {
  type: string
  /** The user's root public key. */
  user: Uint8Array
  /** The signing device's Ed25519 public key. */
  device: Uint8Array
  /** The signing device's peer id. */
  deviceId: PeerId
  /** The device's name, from its certificate. */
  deviceName: string
  /** When the author says it signed (epoch ms). */
  at: number
  body: T
}

/**
 * THE verify function: every package calls it (or `verifyAsync`) for every signed thing that claims a user as its
 * author. In order: canonical encoding and size, expected type, the device certificate (signed by the claimed user's
 * root key, for this very device), the device not revoked, the signature (strict Ed25519, domain `kith/<type>/v1`),
 * and, for a direct message, the signing device being the peer it came from. Each failure has its own error.
 */
export function verify<T = unknown>(input: Uint8Array | Statement, options: VerifyOptions): Verified<T> {
  const checked = checkAllButSignature<T>(input, options)
  checkSignature(checked.statement)
  return verified(checked, options)
}

/**
 * `verify`, with the statement's signature checked by the platform's WebCrypto where it has Ed25519 (in browsers
 * about an order of magnitude faster than JavaScript, and never more lenient: see native-ed25519.ts). For checks
 * that can wait a turn, like a room's neighbour attestations.
 */
export async function verifyAsync<T = unknown>(
  input: Uint8Array | Statement,
  options: VerifyOptions
): Promise<Verified<T>> {
  const checked = checkAllButSignature<T>(input, options)
  await checkSignatureAsync(checked.statement)
  return verified(checked, options)
}

/** A statement whose every check but its own signature passed, with what was read from it. */
interface Checked<T> {
  statement: Statement
  user: Uint8Array
  at: number
  body: T
  deviceName: string
}

/** Every check of `verify` before the statement's own signature. */
function checkAllButSignature<T>(input: Uint8Array | Statement, options: VerifyOptions): Checked<T> {
  assertType(options.type)
  const statement =
    input instanceof Uint8Array ? statementFromBytes(input, options.maxBytes ?? MAX_STATEMENT_BYTES) : input
  if (statement.t !== options.type)
    throw new WrongTypeError(`expected a ${options.type} statement, got ${statement.t}`)
  if (statement.c == null) throw new UncertifiedDeviceError('the statement carries no device certificate')

  const payload = payloadOf(statement)
  read.keys(payload, ['user', 'at', 'body'], 'authored payload')
  const user = read.bytes(payload, 'user', 32)
  const at = read.uint(payload, 'at')
  if (!('body' in payload)) throw new InvalidEncodingError('authored payload has no body')

  const cert = readDeviceCertificate(statement.c)
  if (!equals(cert.user, user)) throw new UncertifiedDeviceError('the certificate is for another user')
  if (!equals(cert.device, statement.s))
    throw new UncertifiedDeviceError('the certificate is for another device')
  if (options.devices?.isRevoked(user, statement.s) === true) throw new RevokedDeviceError()
  return { statement, user, at, body: payload.body as T, deviceName: cert.name }
}

/** The checks after the signature, and what the caller gets. */
function verified<T>(checked: Checked<T>, options: VerifyOptions): Verified<T> {
  const { statement } = checked
  const deviceId = peerIdFromPublicKey(publicKeyFromRaw(statement.s))
  if (options.from != null && !options.from.equals(deviceId)) {
    throw new UnexpectedSignerError(
      `signed by ${deviceId.toString()}, received from ${options.from.toString()}`
    )
  }
  return {
    type: statement.t,
    user: checked.user,
    device: statement.s,
    deviceId,
    deviceName: checked.deviceName,
    at: checked.at,
    body: checked.body
  }
}

/** Revocations a verifier has seen, each checked to be signed by the revoked device's own user. */
export class RevocationList implements DeviceStatus {
  private readonly revoked = new Set<string>()

  /** Adds a `device-revoke` statement; throws if it is malformed or not signed by the user it names. */
  add(revocation: Uint8Array | Statement): void {
    const statement = revocation instanceof Uint8Array ? statementFromBytes(revocation) : revocation
    const { user, device } = readDeviceRevocation(statement)
    this.revoked.add(keyOf(user, device))
  }

  isRevoked(user: Uint8Array, device: Uint8Array): boolean {
    return this.revoked.has(keyOf(user, device))
  }
}

function keyOf(user: Uint8Array, device: Uint8Array): string {
  return `${toString(user, 'base64url')}/${toString(device, 'base64url')}`
}
