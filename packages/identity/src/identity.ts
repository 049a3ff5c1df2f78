import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concat } from 'uint8arrays/concat'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { certifyDevice, certifyEncryptionKey } from './certificates.ts'
import { MAX_DEVICE_NAME_LENGTH, VERSION } from './constants.ts'
import { decode, encode, read } from './encoding.ts'
import { InvalidParametersError, KeystoreError } from './errors.ts'
import { createStatement, statementFromBytes, statementToBytes } from './statement.ts'
import type { Statement } from './statement.ts'
import type { PeerId, PrivateKey } from '@libp2p/interface'

/** A branded short id for display: base32 of SHA-256("kith/user/v1" ‖ root public key), 26 characters. */
export type UserId = string & { readonly __userId: true }

/** One device of one user: everything it needs to sign as that user. */
export interface Identity {
  /** The device key: also the libp2p key, so `deviceId` is the peer id. */
  device: PrivateKey
  deviceId: PeerId
  deviceName: string
  /** The user's root public key (32 bytes). */
  user: Uint8Array
  /** The root secret, on devices allowed to certify and revoke devices. */
  rootSecret?: Uint8Array
  /** This device's certificate, signed by the root key. */
  certificate: Statement
  /** The device's X25519 key pair and its certificate (signed by the device key). */
  encryption: { secretKey: Uint8Array; publicKey: Uint8Array; certificate: Statement }
}

export interface CreateIdentityInit {
  /** Shown to contacts next to this device. @default 'device' */
  deviceName?: string
  /** An existing libp2p Ed25519 key to use as the device key. @default a new one */
  device?: PrivateKey
}

export function userIdFromRoot(user: Uint8Array): UserId {
  return toString(sha256(concat([fromString('kith/user/v1'), user])), 'base32').slice(0, 26) as UserId
}

/** The 32-byte Ed25519 secret of a libp2p Ed25519 key. */
export function deviceSecret(device: PrivateKey): Uint8Array {
  if (device.type !== 'Ed25519') throw new InvalidParametersError('a Kith device key is an Ed25519 key')
  return device.raw.subarray(0, 32)
}

/** A new user on this device: a new root key that certifies the device key and its encryption key. */
export async function createIdentity(init: CreateIdentityInit = {}): Promise<Identity> {
  return deviceFor(ed25519.utils.randomSecretKey(), init)
}

/**
 * A new device for the user of `identity` (which must hold the root secret): a new device key and encryption key,
 * certified by the same root. Restoring a backup on another browser uses this, so two devices never share a key.
 */
export async function addDevice(identity: Identity, init: CreateIdentityInit = {}): Promise<Identity> {
  if (identity.rootSecret == null) {
    throw new InvalidParametersError('only a device holding the root key can certify another device')
  }
  return deviceFor(identity.rootSecret, init)
}

async function deviceFor(rootSecret: Uint8Array, init: CreateIdentityInit): Promise<Identity> {
  const deviceName = init.deviceName ?? 'device'
  if (deviceName.length > MAX_DEVICE_NAME_LENGTH) {
    throw new InvalidParametersError(`a device name has at most ${MAX_DEVICE_NAME_LENGTH} characters`)
  }
  const device = init.device ?? (await generateKeyPair('Ed25519'))
  const encSecret = x25519.utils.randomSecretKey()
  const encPublic = x25519.getPublicKey(encSecret)
  return {
    device,
    deviceId: peerIdFromPrivateKey(device),
    deviceName,
    user: ed25519.getPublicKey(rootSecret),
    rootSecret,
    certificate: certifyDevice(rootSecret, device.publicKey.raw, deviceName),
    encryption: {
      secretKey: encSecret,
      publicKey: encPublic,
      certificate: certifyEncryptionKey(deviceSecret(device), encPublic)
    }
  }
}

/** Signs `body` as this user through this device: what `verify` reads back. */
export function signAs(identity: Identity, type: string, body: unknown, at = Date.now()): Uint8Array {
  return statementToBytes(
    createStatement(
      deviceSecret(identity.device),
      type,
      { user: identity.user, at, body },
      identity.certificate
    )
  )
}

/** The identity as bytes, for keystores and backups (secret: store them as such). */
export function identityToBytes(identity: Identity): Uint8Array {
  return encode({
    v: VERSION,
    device: privateKeyToProtobuf(identity.device),
    name: identity.deviceName,
    user: identity.user,
    ...(identity.rootSecret != null ? { root: identity.rootSecret } : {}),
    cert: statementToBytes(identity.certificate),
    enc: identity.encryption.secretKey,
    encCert: statementToBytes(identity.encryption.certificate)
  })
}

/** Reads `identityToBytes` output back; throws `KeystoreError` for anything else. */
export function identityFromBytes(bytes: Uint8Array): Identity {
  try {
    const map = read.map(decode(bytes, 16 * 1024), 'identity')
    read.keys(map, ['v', 'device', 'name', 'user', 'root', 'cert', 'enc', 'encCert'], 'identity')
    if (read.uint(map, 'v') !== VERSION) throw new KeystoreError(`identity version is not ${VERSION}`)
    const device = privateKeyFromProtobuf(read.bytes(map, 'device'))
    const encSecret = read.bytes(map, 'enc', 32)
    const rootSecret = map.root === undefined ? undefined : read.bytes(map, 'root', 32)
    const user = read.bytes(map, 'user', 32)
    if (rootSecret != null && toString(ed25519.getPublicKey(rootSecret)) !== toString(user)) {
      throw new KeystoreError('the stored root secret does not match the stored user')
    }
    return {
      device,
      deviceId: peerIdFromPrivateKey(device),
      deviceName: read.string(map, 'name', MAX_DEVICE_NAME_LENGTH),
      user,
      ...(rootSecret != null ? { rootSecret } : {}),
      certificate: statementFromBytes(read.bytes(map, 'cert')),
      encryption: {
        secretKey: encSecret,
        publicKey: x25519.getPublicKey(encSecret),
        certificate: statementFromBytes(read.bytes(map, 'encCert'))
      }
    }
  } catch (err: unknown) {
    if (err instanceof KeystoreError) throw err
    throw new KeystoreError('not a stored Kith identity', { cause: err })
  }
}
