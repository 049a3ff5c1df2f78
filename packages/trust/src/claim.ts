/**
 * The newcomer's claim: who it is, signed twice over the CPace transcript — by the invite's key (it holds the link)
 * and by its own device key (it owns the key being admitted). The claim names the room, the invite, both devices
 * and the transcript, so it cannot be replayed to another member, session or device.
 */
import {
  decode,
  encode,
  read,
  readDeviceCertificate,
  readEncryptionKeyCertificate,
  signingInput,
  statementFromBytes
} from '@kith/identity'
import { ed25519 } from '@noble/curves/ed25519.js'
import { equals } from 'uint8arrays/equals'
import { EntryError } from './errors.ts'

export const CLAIM_TYPE = 'invite-claim'
const MAX_CLAIM_BYTES = 512

export interface Claim {
  /** The room id (base64url). */
  room: string
  invite: Uint8Array
  /** The newcomer's root key and device key. */
  user: Uint8Array
  device: Uint8Array
  /** The inviter's device key: the peer the CPace run was with. */
  inviter: Uint8Array
  /** SHA-256 of the CPace channel id, session id and both messages. */
  transcript: Uint8Array
}

export function encodeClaim(claim: Claim): Uint8Array {
  return encode({
    r: claim.room,
    i: claim.invite,
    u: claim.user,
    d: claim.device,
    m: claim.inviter,
    t: claim.transcript
  })
}

export function readClaim(bytes: Uint8Array): Claim {
  try {
    const map = read.map(decode(bytes, MAX_CLAIM_BYTES), 'claim')
    read.keys(map, ['r', 'i', 'u', 'd', 'm', 't'], 'claim')
    return {
      room: read.string(map, 'r', 43),
      invite: read.bytes(map, 'i', 16),
      user: read.bytes(map, 'u', 32),
      device: read.bytes(map, 'd', 32),
      inviter: read.bytes(map, 'm', 32),
      transcript: read.bytes(map, 't', 32)
    }
  } catch (err: unknown) {
    throw new EntryError(`malformed claim: ${(err as Error).message}`, { cause: err })
  }
}

/** The two signatures over a claim: by the invite's secret key and by the newcomer's device secret. */
export function signClaim(
  claim: Uint8Array,
  inviteSecret: Uint8Array,
  deviceSecret: Uint8Array
): { inviteSig: Uint8Array; deviceSig: Uint8Array } {
  const input = signingInput(CLAIM_TYPE, claim)
  return { inviteSig: ed25519.sign(input, inviteSecret), deviceSig: ed25519.sign(input, deviceSecret) }
}

function valid(sig: Uint8Array, message: Uint8Array, key: Uint8Array): boolean {
  try {
    return ed25519.verify(sig, message, key, { zip215: false })
  } catch {
    return false
  }
}

/** What an admission proves about the newcomer once every check passed. */
export interface AdmittedDevice {
  claim: Claim
  user: Uint8Array
  device: Uint8Array
  deviceName: string
  /** The device's certified X25519 key, for lockboxes. */
  enc: Uint8Array
}

export interface AdmissionEvidence {
  claim: Uint8Array
  inviteSig: Uint8Array
  deviceSig: Uint8Array
  /** The device certificate (root-signed) and the X25519 key certificate (device-signed), as bytes. */
  cert: Uint8Array
  enc: Uint8Array
}

/**
 * Checks an admission on its own: the claim is for `room` and `invite`, made with `inviter`; the invite key and the
 * device key both signed it; the device certificate chains to the claimed user; the X25519 key is the device's.
 * Throws `EntryError` saying which check failed.
 */
export function checkAdmission(
  evidence: AdmissionEvidence,
  expected: { room: string; invite: Uint8Array; inviteKey: Uint8Array; inviter: Uint8Array }
): AdmittedDevice {
  const claim = readClaim(evidence.claim)
  if (claim.room !== expected.room) throw new EntryError('the claim is for another room')
  if (!equals(claim.invite, expected.invite)) throw new EntryError('the claim is for another invite')
  if (!equals(claim.inviter, expected.inviter)) {
    throw new EntryError('the claim was made with another device than the admitting one')
  }
  const input = signingInput(CLAIM_TYPE, evidence.claim)
  if (!valid(evidence.inviteSig, input, expected.inviteKey)) {
    throw new EntryError('the claim is not signed by the invite key')
  }
  if (!valid(evidence.deviceSig, input, claim.device)) {
    throw new EntryError('the claim is not signed by the admitted device')
  }
  let deviceName: string
  let enc: Uint8Array
  try {
    const cert = readDeviceCertificate(statementFromBytes(evidence.cert))
    if (!equals(cert.user, claim.user) || !equals(cert.device, claim.device)) {
      throw new EntryError('the device certificate is for another user or device')
    }
    deviceName = cert.name
    const encCert = readEncryptionKeyCertificate(statementFromBytes(evidence.enc))
    if (!equals(encCert.device, claim.device))
      throw new EntryError('the X25519 key is certified by another device')
    enc = encCert.key
  } catch (err: unknown) {
    if (err instanceof EntryError) throw err
    throw new EntryError(`the admitted device's certificates do not verify: ${(err as Error).message}`, {
      cause: err
    })
  }
  return { claim, user: claim.user, device: claim.device, deviceName, enc }
}
