import { ed25519 } from '@noble/curves/ed25519.js'
import { equals } from 'uint8arrays/equals'
import { toString } from 'uint8arrays/to-string'
import { DEVICE_CERT_TYPE, DEVICE_REVOKE_TYPE, ENC_KEY_TYPE, MAX_DEVICE_NAME_LENGTH } from './constants.ts'
import { read } from './encoding.ts'
import { InvalidParametersError, UncertifiedDeviceError, WrongTypeError } from './errors.ts'
import { checkSignature, createStatement, payloadOf } from './statement.ts'
import type { Statement } from './statement.ts'

/** What a device certificate says: the user's root key vouches for a device key. */
export interface DeviceCertificate {
  user: Uint8Array
  device: Uint8Array
  name: string
  at: number
}

export interface DeviceRevocation {
  user: Uint8Array
  device: Uint8Array
  at: number
}

export interface EncryptionKeyCertificate {
  device: Uint8Array
  key: Uint8Array
  at: number
}

/** The root key (32-byte Ed25519 secret) certifies a device's Ed25519 public key. */
export function certifyDevice(
  rootSecret: Uint8Array,
  device: Uint8Array,
  name: string,
  at = Date.now()
): Statement {
  if (device.byteLength !== 32)
    throw new InvalidParametersError('a device key is a 32-byte Ed25519 public key')
  if (name.length > MAX_DEVICE_NAME_LENGTH) {
    throw new InvalidParametersError(`a device name has at most ${MAX_DEVICE_NAME_LENGTH} characters`)
  }
  const user = ed25519.getPublicKey(rootSecret)
  return createStatement(rootSecret, DEVICE_CERT_TYPE, { user, device, name, at })
}

/** The root key revokes a device: statements that device signs no longer verify for anyone who knows this. */
export function revokeDevice(rootSecret: Uint8Array, device: Uint8Array, at = Date.now()): Statement {
  if (device.byteLength !== 32)
    throw new InvalidParametersError('a device key is a 32-byte Ed25519 public key')
  const user = ed25519.getPublicKey(rootSecret)
  return createStatement(rootSecret, DEVICE_REVOKE_TYPE, { user, device, at })
}

/** A device key certifies its X25519 key, which others seal secrets to. */
export function certifyEncryptionKey(deviceSecret: Uint8Array, key: Uint8Array, at = Date.now()): Statement {
  if (key.byteLength !== 32) throw new InvalidParametersError('an X25519 public key has 32 bytes')
  const device = ed25519.getPublicKey(deviceSecret)
  return createStatement(deviceSecret, ENC_KEY_TYPE, { device, key, at })
}

/**
 * Certificates already checked, keyed by their exact signer, payload and signature: the same bytes always give the
 * same answer, so a peer verifying many statements from one device checks its certificate once. Bounded, oldest out.
 */
const checked = new Map<string, DeviceCertificate>()
const MAX_CHECKED_CERTIFICATES = 1_024

/** Checks a device certificate completely (type, shape, issuer = the user inside, signature) and reads it. */
export function readDeviceCertificate(statement: Statement): DeviceCertificate {
  const key = `${statement.t}|${toString(statement.s, 'base64')}|${toString(statement.p, 'base64')}|${toString(statement.g, 'base64')}`
  const known = checked.get(key)
  if (known != null) return { ...known }
  const cert = checkDeviceCertificate(statement)
  if (checked.size >= MAX_CHECKED_CERTIFICATES) checked.delete(checked.keys().next().value as string)
  checked.set(key, cert)
  return { ...cert }
}

function checkDeviceCertificate(statement: Statement): DeviceCertificate {
  if (statement.t !== DEVICE_CERT_TYPE)
    throw new UncertifiedDeviceError(`expected a ${DEVICE_CERT_TYPE}, got ${statement.t}`)
  const payload = payloadOf(statement)
  read.keys(payload, ['user', 'device', 'name', 'at'], 'device certificate')
  const cert = {
    user: read.bytes(payload, 'user', 32),
    device: read.bytes(payload, 'device', 32),
    name: read.string(payload, 'name', MAX_DEVICE_NAME_LENGTH),
    at: read.uint(payload, 'at')
  }
  if (!equals(cert.user, statement.s))
    throw new UncertifiedDeviceError('the certificate is not signed by its user')
  try {
    checkSignature(statement)
  } catch {
    throw new UncertifiedDeviceError('the device certificate signature does not verify')
  }
  return cert
}

export function readDeviceRevocation(statement: Statement): DeviceRevocation {
  if (statement.t !== DEVICE_REVOKE_TYPE)
    throw new WrongTypeError(`expected a ${DEVICE_REVOKE_TYPE}, got ${statement.t}`)
  const payload = payloadOf(statement)
  read.keys(payload, ['user', 'device', 'at'], 'device revocation')
  const revocation = {
    user: read.bytes(payload, 'user', 32),
    device: read.bytes(payload, 'device', 32),
    at: read.uint(payload, 'at')
  }
  if (!equals(revocation.user, statement.s))
    throw new WrongTypeError('the revocation is not signed by its user')
  checkSignature(statement)
  return revocation
}

export function readEncryptionKeyCertificate(statement: Statement): EncryptionKeyCertificate {
  if (statement.t !== ENC_KEY_TYPE)
    throw new WrongTypeError(`expected an ${ENC_KEY_TYPE}, got ${statement.t}`)
  const payload = payloadOf(statement)
  read.keys(payload, ['device', 'key', 'at'], 'encryption key certificate')
  const cert = {
    device: read.bytes(payload, 'device', 32),
    key: read.bytes(payload, 'key', 32),
    at: read.uint(payload, 'at')
  }
  if (!equals(cert.device, statement.s))
    throw new WrongTypeError('the encryption key is not signed by its device')
  checkSignature(statement)
  return cert
}
