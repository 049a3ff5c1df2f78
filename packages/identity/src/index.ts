/**
 * @packageDocumentation
 *
 * `@kith/identity` says who signed what. A user is a root key; each of the user's devices has its own key (the
 * libp2p key, so the device id is the peer id), certified by the root key. Everything a user signs goes through one
 * encoding (canonical DAG-CBOR), one signing rule (Ed25519 over `kith/<type>/v1 ‖ 0 ‖ payload`) and one verify
 * function. People compare safety numbers to know they talk to whom they think; a passphrase-protected backup brings
 * an identity back after a browser is cleared.
 */
export { verify, verifyAsync, RevocationList } from './verify.ts'
export type { DeviceStatus, Verified, VerifyOptions } from './verify.ts'
export {
  createIdentity,
  addDevice,
  signAs,
  userIdFromRoot,
  deviceSecret,
  identityToBytes,
  identityFromBytes
} from './identity.ts'
export type { CreateIdentityInit, Identity, UserId } from './identity.ts'
export {
  certifyDevice,
  revokeDevice,
  certifyEncryptionKey,
  readDeviceCertificate,
  readDeviceRevocation,
  readEncryptionKeyCertificate
} from './certificates.ts'
export type { DeviceCertificate, DeviceRevocation, EncryptionKeyCertificate } from './certificates.ts'
export { createStatement, statementFromBytes, statementToBytes, signingInput } from './statement.ts'
export type { Statement } from './statement.ts'
export { encode, decode, read } from './encoding.ts'
export { fragmentLink, readFragment } from './links.ts'
export { safetyNumber, fingerprint, matchesSafetyNumberQr, EMOJI } from './safety-number.ts'
export type { SafetyNumber } from './safety-number.ts'
export { initiateSas, respondSas, MAX_SAS_MESSAGE_BYTES } from './sas.ts'
export type { SasChannel, SasCode, SasExchange, SasPeer } from './sas.ts'
export {
  startSas,
  handleSas,
  channelFromStream,
  SAS_PROTOCOL,
  DEFAULT_SAS_TIMEOUT_MS,
  DEFAULT_SAS_STEP_TIMEOUT_MS
} from './sas-protocol.ts'
export type { SasHandlers, SasOptions } from './sas-protocol.ts'
export { ContactBook, VerificationMethod } from './contacts.ts'
export type { Contact, ContactDevice } from './contacts.ts'
export {
  Discovery,
  discoveryHash,
  discoveryKey,
  discoveryNamespace,
  normalizeIdentifier,
  createClaim,
  readClaim,
  readClaimRecord,
  encodeClaimRecord,
  mergeClaimRecords
} from './discovery.ts'
export type {
  ClaimDevice,
  CreateClaimOptions,
  DhtEvent,
  DiscoveryClaim,
  DiscoveryDht,
  DiscoveryInit,
  LookupOptions,
  LookupResult,
  PublishOptions,
  PublishResult,
  ReadClaimOptions
} from './discovery.ts'
export {
  DevicePairing,
  pairWith,
  requestPairing,
  pairingLink,
  readPairingLink,
  PAIRING_PROTOCOL,
  PAIRING_FRAGMENT,
  DEFAULT_PAIRING_TTL_MS,
  DEFAULT_PAIRING_TIMEOUT_MS,
  MAX_PAIRING_FAILURES
} from './pairing.ts'
export type {
  CreateOfferOptions,
  PairingErrorCode,
  PairingHandlers,
  PairingOffer,
  PairingRequest,
  PairingResult,
  PairOptions
} from './pairing.ts'
export { exportBackup, importBackup } from './backup.ts'
export type { BackupOptions } from './backup.ts'
export { loadOrCreateIdentity, MemoryKeystore, FileKeystore, IDBKeystore } from './keystore.ts'
export type { Keystore } from './keystore.ts'
export { MemoryByteStore } from './store.ts'
export type { ByteStore } from './store.ts'
export { FileByteStore } from './store-file.ts'
export { IDBByteStore } from './store-idb.ts'
export * from './errors.ts'
export * from './constants.ts'
