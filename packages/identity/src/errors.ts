import type { PairingErrorCode } from './pairing.ts'

/** Bytes that are not the canonical DAG-CBOR encoding of the expected shape. */
export class InvalidEncodingError extends Error {
  static override name = 'InvalidEncodingError'
  constructor(message = 'Invalid encoding', options?: ErrorOptions) {
    super(message, options)
    this.name = 'InvalidEncodingError'
  }
}

/** Input larger than the limit for its kind. */
export class TooLargeError extends Error {
  static override name = 'TooLargeError'
  constructor(message = 'Input too large') {
    super(message)
    this.name = 'TooLargeError'
  }
}

/** A signature that does not verify under the strict Ed25519 rule. */
export class InvalidSignatureError extends Error {
  static override name = 'InvalidSignatureError'
  constructor(message = 'Invalid signature') {
    super(message)
    this.name = 'InvalidSignatureError'
  }
}

/** A signed statement of another type than the one expected. */
export class WrongTypeError extends Error {
  static override name = 'WrongTypeError'
  constructor(message = 'Wrong statement type') {
    super(message)
    this.name = 'WrongTypeError'
  }
}

/** The signer is not a device certified by the claimed user's root key. */
export class UncertifiedDeviceError extends Error {
  static override name = 'UncertifiedDeviceError'
  constructor(message = 'Signer is not a certified device of the user') {
    super(message)
    this.name = 'UncertifiedDeviceError'
  }
}

/** The signer is a device its user revoked. */
export class RevokedDeviceError extends Error {
  static override name = 'RevokedDeviceError'
  constructor(message = 'Signer is a revoked device') {
    super(message)
    this.name = 'RevokedDeviceError'
  }
}

/** The message was signed by another device than the peer it came from. */
export class UnexpectedSignerError extends Error {
  static override name = 'UnexpectedSignerError'
  constructor(message = 'Signed by another device than the sender') {
    super(message)
    this.name = 'UnexpectedSignerError'
  }
}

/** A backup that cannot be opened with this passphrase (or whose contents were altered). */
export class WrongPassphraseError extends Error {
  static override name = 'WrongPassphraseError'
  constructor(message = 'Wrong passphrase, or the backup was altered') {
    super(message)
    this.name = 'WrongPassphraseError'
  }
}

/** A backup that is not a Kith identity backup this version can read. */
export class InvalidBackupError extends Error {
  static override name = 'InvalidBackupError'
  constructor(message = 'Not a readable identity backup', options?: ErrorOptions) {
    super(message, options)
    this.name = 'InvalidBackupError'
  }
}

/** An argument Kith cannot use. */
export class InvalidParametersError extends Error {
  static override name = 'InvalidParametersError'
  constructor(message = 'Invalid parameters') {
    super(message)
    this.name = 'InvalidParametersError'
  }
}

/** A stored identity that cannot be read. */
export class KeystoreError extends Error {
  static override name = 'KeystoreError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'KeystoreError'
  }
}

/** A SAS exchange broke its rules: a revealed key that does not match its commitment, a message out of order. */
export class SasProtocolError extends Error {
  static override name = 'SasProtocolError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SasProtocolError'
  }
}

/** The other side's MAC does not match: the keys shown were not the keys the codes covered. */
export class SasMismatchError extends Error {
  static override name = 'SasMismatchError'
  constructor(message = 'The verification codes did not match') {
    super(message)
    this.name = 'SasMismatchError'
  }
}

/** The other side cancelled the exchange (for example because its person saw different emoji). */
export class SasCancelledError extends Error {
  static override name = 'SasCancelledError'
  readonly reason: string
  constructor(reason: string) {
    super(`the other side cancelled: ${reason}`)
    this.name = 'SasCancelledError'
    this.reason = reason
  }
}

/**
 * A known contact showed up with another root key. Never accepted silently: the person must look at it, and
 * re-verify before trusting the new key.
 */
export class ContactKeyChangedError extends Error {
  static override name = 'ContactKeyChangedError'
  constructor(message = 'This contact now presents a different identity key') {
    super(message)
    this.name = 'ContactKeyChangedError'
  }
}

/** No contact with that key. */
export class UnknownContactError extends Error {
  static override name = 'UnknownContactError'
  constructor(message = 'No such contact') {
    super(message)
    this.name = 'UnknownContactError'
  }
}

/** A discovery claim or record that does not hold: bad signature, wrong identifier, expired, malformed, too big. */
export class InvalidClaimError extends Error {
  static override name = 'InvalidClaimError'
  constructor(message = 'Invalid discovery claim', options?: ErrorOptions) {
    super(message, options)
    this.name = 'InvalidClaimError'
  }
}

/** A discovery lookup or publish that could not reach the DHT (no peers, timeout, every server refused). */
export class DiscoveryError extends Error {
  static override name = 'DiscoveryError'
  constructor(message = 'Discovery failed', options?: ErrorOptions) {
    super(message, options)
    this.name = 'DiscoveryError'
  }
}

/** Pairing a new device failed; `code` says why, the same on both devices. */
export class PairingError extends Error {
  static override name = 'PairingError'
  readonly code: PairingErrorCode
  constructor(code: PairingErrorCode, message = `Pairing failed: ${code}`, options?: ErrorOptions) {
    super(message, options)
    this.name = 'PairingError'
    this.code = code
  }
}
