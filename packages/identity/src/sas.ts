import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { concat } from 'uint8arrays/concat'
import { equals } from 'uint8arrays/equals'
import { fromString } from 'uint8arrays/from-string'
import { readDeviceCertificate } from './certificates.ts'
import { decode, encode, read } from './encoding.ts'
import { SasCancelledError, SasMismatchError, SasProtocolError, UncertifiedDeviceError } from './errors.ts'
import { EMOJI } from './safety-number.ts'
import { statementFromBytes, statementToBytes } from './statement.ts'
import type { Identity } from './identity.ts'
import type { PeerId } from '@libp2p/interface'

/** The largest SAS message (a device certificate is the biggest part). */
export const MAX_SAS_MESSAGE_BYTES = 4 * 1024

/** Both ends exchange whole messages; a libp2p stream, or an in-memory pair in tests. */
export interface SasChannel {
  read(): Promise<Uint8Array>
  write(bytes: Uint8Array): Promise<void>
}

/** Who is on the other end, as their device certificate proves. */
export interface SasPeer {
  user: Uint8Array
  deviceId: PeerId
  deviceName: string
  /** The device certificate it presented, for `ContactBook.observe`. */
  certificate: Uint8Array
}

/** The short code both people compare. */
export interface SasCode {
  /** 7 emoji (42 bits). */
  emoji: { emoji: string; name: string }[]
  /** The same exchange as three numbers from 1000 to 9191. */
  decimal: [number, number, number]
}

/** An exchange waiting for its person to compare the code. */
export interface SasExchange extends SasCode {
  remote: SasPeer
  /** The person saw the same code: exchange MACs; resolves when the other side proved the keys it showed. */
  confirm(): Promise<SasPeer>
  /** The person saw a different code, or gave up. */
  cancel(reason?: string): Promise<void>
}

const enc = (text: string): Uint8Array => fromString(text)

function message(bytes: Uint8Array): Record<string, unknown> {
  const map = read.map(decode(bytes, MAX_SAS_MESSAGE_BYTES), 'SAS message')
  if (map.type === 'cancel') throw new SasCancelledError(read.string(map, 'reason', 64))
  return map
}

/** A side that gives up says why (best effort), so the other is not left waiting for its timeout. */
async function tellOnFailure<T>(channel: SasChannel, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err: unknown) {
    if ((err as Error).name !== SasCancelledError.name) {
      await channel
        .write(encode({ type: 'cancel', reason: (err as Error).name.slice(0, 64) }))
        .catch(() => {})
    }
    throw err
  }
}

function expectType(map: Record<string, unknown>, type: string): void {
  if (map.type !== type) throw new SasProtocolError(`expected ${type}, got ${String(map.type)}`)
}

/** Reads a device certificate and checks it certifies the device the transport authenticated. */
function peerFrom(
  certBytes: Uint8Array,
  user: Uint8Array,
  remote: PeerId | undefined
): SasPeer & { device: Uint8Array } {
  const cert = readDeviceCertificate(statementFromBytes(certBytes, MAX_SAS_MESSAGE_BYTES))
  if (!equals(cert.user, user)) throw new UncertifiedDeviceError('the certificate is for another user')
  const deviceId = peerIdFromPublicKey(publicKeyFromRaw(cert.device))
  if (remote != null && !remote.equals(deviceId)) {
    throw new UncertifiedDeviceError('the certificate is for another device than the one connected')
  }
  return { user: cert.user, deviceId, deviceName: cert.name, device: cert.device, certificate: certBytes }
}

interface Transcript {
  txn: Uint8Array
  initiator: { user: Uint8Array; device: Uint8Array; eph: Uint8Array }
  responder: { user: Uint8Array; device: Uint8Array; eph: Uint8Array }
}

function info(label: string, t: Transcript): Uint8Array {
  // initiator first, then responder: both sides build the same bytes
  return concat([
    enc(label),
    t.txn,
    t.initiator.user,
    t.initiator.device,
    t.initiator.eph,
    t.responder.user,
    t.responder.device,
    t.responder.eph
  ])
}

function codeFrom(bytes: Uint8Array): SasCode {
  const emoji: SasCode['emoji'] = []
  for (let i = 0; i < 7; i++) {
    const bit = i * 6
    const value = ((((bytes[bit >> 3] ?? 0) << 8) | (bytes[(bit >> 3) + 1] ?? 0)) >> (10 - (bit % 8))) & 0x3f
    const [symbol, name] = EMOJI[value] ?? ['?', '?']
    emoji.push({ emoji: symbol, name })
  }
  // Matrix's decimal form: three 13-bit numbers plus 1000
  const b = bytes
  const decimal: [number, number, number] = [
    (((b[0] ?? 0) << 5) | ((b[1] ?? 0) >> 3)) + 1000,
    ((((b[1] ?? 0) & 0x7) << 10) | ((b[2] ?? 0) << 2) | ((b[3] ?? 0) >> 6)) + 1000,
    ((((b[3] ?? 0) & 0x3f) << 7) | ((b[4] ?? 0) >> 1)) + 1000
  ]
  return { emoji, decimal }
}

function keyMac(macKey: Uint8Array, user: Uint8Array, device: Uint8Array): Uint8Array {
  return hmac(sha256, macKey, concat([enc('kith/sas/keys/v1'), user, device]))
}

interface Agreement {
  shared: Uint8Array
  transcript: Transcript
  self: 'initiator' | 'responder'
  remote: SasPeer
}

function finish(channel: SasChannel, { shared, transcript: t, self, remote }: Agreement): SasExchange {
  const code = codeFrom(hkdf(sha256, shared, t.txn, info('kith/sas/code/v1', t), 6))
  const macKey = hkdf(sha256, shared, t.txn, info('kith/sas/mac/v1', t), 32)
  const mine = t[self]
  const theirs = self === 'initiator' ? t.responder : t.initiator
  let settled = false
  return {
    ...code,
    remote,
    async confirm() {
      if (settled) throw new SasProtocolError('the exchange is over')
      settled = true
      await channel.write(encode({ type: 'mac', mac: keyMac(macKey, mine.user, mine.device) }))
      const reply = message(await channel.read())
      expectType(reply, 'mac')
      if (!equals(read.bytes(reply, 'mac', 32), keyMac(macKey, theirs.user, theirs.device))) {
        throw new SasMismatchError()
      }
      return remote
    },
    async cancel(reason = 'mismatch') {
      if (settled) return
      settled = true
      await channel.write(encode({ type: 'cancel', reason: reason.slice(0, 64) }))
    }
  }
}

/**
 * Starts a SAS exchange (Matrix `m.sas.v1` semantics): the initiator commits to its ephemeral X25519 key before
 * seeing the other's, so a man in the middle who swaps keys cannot choose them to make both codes match; both sides
 * derive the code from the shared secret bound to both users' root keys, device keys and ephemeral keys; after the
 * people compare, MACs over each side's keys prove the code covered exactly those keys.
 */
export async function initiateSas(
  channel: SasChannel,
  identity: Identity,
  remote?: PeerId
): Promise<SasExchange> {
  return tellOnFailure(channel, async () => initiate(channel, identity, remote))
}

async function initiate(channel: SasChannel, identity: Identity, remote?: PeerId): Promise<SasExchange> {
  const txn = randomBytes(16)
  const ephSecret = x25519.utils.randomSecretKey()
  const eph = x25519.getPublicKey(ephSecret)
  const commitment = sha256(concat([enc('kith/sas/commit/v1'), txn, eph]))
  await channel.write(
    encode({
      type: 'start',
      v: 1,
      txn,
      user: identity.user,
      cert: statementToBytes(identity.certificate),
      commitment
    })
  )
  const accept = message(await channel.read())
  expectType(accept, 'accept')
  if (!equals(read.bytes(accept, 'txn', 16), txn)) throw new SasProtocolError('the transaction id changed')
  const peer = peerFrom(read.bytes(accept, 'cert'), read.bytes(accept, 'user', 32), remote)
  const theirEph = read.bytes(accept, 'eph', 32)
  await channel.write(encode({ type: 'key', eph }))
  const t: Transcript = {
    txn,
    initiator: { user: identity.user, device: identity.device.publicKey.raw, eph },
    responder: { user: peer.user, device: peer.device, eph: theirEph }
  }
  return finish(channel, {
    shared: x25519.getSharedSecret(ephSecret, theirEph),
    transcript: t,
    self: 'initiator',
    remote: peer
  })
}

/** Answers a SAS exchange started by the other side. */
export async function respondSas(
  channel: SasChannel,
  identity: Identity,
  remote?: PeerId
): Promise<SasExchange> {
  return tellOnFailure(channel, async () => respond(channel, identity, remote))
}

async function respond(channel: SasChannel, identity: Identity, remote?: PeerId): Promise<SasExchange> {
  const start = message(await channel.read())
  expectType(start, 'start')
  if (start.v !== 1) throw new SasProtocolError('unsupported SAS version')
  const txn = read.bytes(start, 'txn', 16)
  const commitment = read.bytes(start, 'commitment', 32)
  const peer = peerFrom(read.bytes(start, 'cert'), read.bytes(start, 'user', 32), remote)
  const ephSecret = x25519.utils.randomSecretKey()
  const eph = x25519.getPublicKey(ephSecret)
  await channel.write(
    encode({ type: 'accept', txn, user: identity.user, cert: statementToBytes(identity.certificate), eph })
  )
  const key = message(await channel.read())
  expectType(key, 'key')
  const theirEph = read.bytes(key, 'eph', 32)
  if (!equals(sha256(concat([enc('kith/sas/commit/v1'), txn, theirEph])), commitment)) {
    throw new SasProtocolError('the revealed key does not match its commitment')
  }
  const t: Transcript = {
    txn,
    initiator: { user: peer.user, device: peer.device, eph: theirEph },
    responder: { user: identity.user, device: identity.device.publicKey.raw, eph }
  }
  return finish(channel, {
    shared: x25519.getSharedSecret(ephSecret, theirEph),
    transcript: t,
    self: 'responder',
    remote: peer
  })
}
