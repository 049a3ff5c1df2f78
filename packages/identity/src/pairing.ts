import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { equals } from 'uint8arrays/equals'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { certifyDevice, certifyEncryptionKey, readDeviceCertificate } from './certificates.ts'
import { MAX_DEVICE_NAME_LENGTH, VERSION } from './constants.ts'
import { decode, encode, read } from './encoding.ts'
import { InvalidParametersError, PairingError } from './errors.ts'
import { deviceSecret } from './identity.ts'
import { fragmentLink, readFragment } from './links.ts'
import { channelFromStream } from './sas-protocol.ts'
import { statementFromBytes, statementToBytes } from './statement.ts'
import type { Identity } from './identity.ts'
import type { SasChannel } from './sas.ts'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'

export const PAIRING_PROTOCOL = '/kith/identity/pair/1.0.0'

/** The link fragment key: `https://app.example/#kith-pair=<base64url>`. */
export const PAIRING_FRAGMENT = 'kith-pair'

/** An offer lives ten minutes unless told otherwise. */
export const DEFAULT_PAIRING_TTL_MS = 10 * 60 * 1000

/** Wrong secrets an offer tolerates before it is burned. */
export const MAX_PAIRING_FAILURES = 3

/** The pairing exchange, the approval on the existing device included. */
export const DEFAULT_PAIRING_TIMEOUT_MS = 120_000

const MAX_PAIRING_MESSAGE_BYTES = 8 * 1024
const MAX_LINK_RELAYS = 4

/** Why a pairing failed, the same code on both devices. */
export type PairingErrorCode =
  'UNKNOWN_OFFER' | 'OFFER_EXPIRED' | 'OFFER_USED' | 'OFFER_BURNED' | 'WRONG_SECRET' | 'REJECTED' | 'PROTOCOL'

/** What a pairing link carries, all in the URL fragment (never sent to a server). */
export interface PairingOffer {
  /** The existing device to dial. */
  device: PeerId
  /** Relays it holds reservations on. */
  relays: string[]
  /** Names the offer on the existing device. */
  id: Uint8Array
  /** 128 bits only the link holder knows: the new device proves it knows them, without sending them. */
  secret: Uint8Array
  expiresAt: number
}

/** A new device asking to join, as the existing device sees it before approving. */
export interface PairingRequest {
  deviceId: PeerId
  deviceName: string
}

export interface PairingResult {
  deviceId: PeerId
  deviceName: string
  /** The certificate the root key issued for the new device: add it to the user's device list. */
  certificate: Uint8Array
  /** Whether the new device received the root key too. */
  root: boolean
}

const mac = (secret: Uint8Array, label: string, ...parts: Uint8Array[]): Uint8Array =>
  hmac(sha256, secret, encode([`kith/pair/v${VERSION}/${label}`, ...parts]))

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return diff === 0
}

/** `base` with the offer in its fragment. */
export function pairingLink(offer: PairingOffer, base: string): string {
  return fragmentLink(base, PAIRING_FRAGMENT, {
    v: VERSION,
    d: offer.device.toString(),
    r: offer.relays,
    i: offer.id,
    s: offer.secret,
    e: offer.expiresAt
  })
}

/** The offer in a pairing link (or in just its fragment). Throws `PairingError` (`PROTOCOL`) for anything else. */
export function readPairingLink(link: string): PairingOffer {
  try {
    const map = readFragment(link, PAIRING_FRAGMENT, 2048)
    if (map == null) throw new PairingError('PROTOCOL', 'this is not a Kith pairing link')
    read.keys(map, ['v', 'd', 'r', 'i', 's', 'e'], 'pairing link')
    if (read.uint(map, 'v') !== VERSION) {
      throw new PairingError('PROTOCOL', `pairing link version is not ${VERSION}`)
    }
    return {
      device: peerIdFromString(read.string(map, 'd', 128)),
      relays: read.strings(map, 'r', MAX_LINK_RELAYS, 512),
      id: read.bytes(map, 'i', 16),
      secret: read.bytes(map, 's', 16),
      expiresAt: read.uint(map, 'e')
    }
  } catch (err: unknown) {
    if (err instanceof PairingError) throw err
    throw new PairingError('PROTOCOL', 'the pairing link is damaged', { cause: err })
  }
}

interface OpenOffer {
  offer: PairingOffer
  failures: number
  state: 'open' | 'used' | 'burned'
  shareRoot: boolean
}

export interface CreateOfferOptions {
  /** Relays the new device can reach this one through (this peer's own). */
  relays: string[]
  /** @default 10 minutes */
  ttlMs?: number
  /** Give the new device the root key too, so it can pair and remove devices itself. @default false */
  shareRoot?: boolean
}

export interface PairingHandlers {
  /** Asked for each request with the right secret: resolve true to issue the certificate. @default approve */
  approve?: (request: PairingRequest) => Promise<boolean> | boolean
  /** Each device paired. */
  onPaired?: (result: PairingResult) => void
  /** Each attempt that failed on this side (wrong secret, expired offer, …). */
  onError?: (err: PairingError, request?: PairingRequest) => void
}

/**
 * The existing device's side of pairing: it makes one-time offers (shown as a link and QR code) and, when a new
 * device proves it holds an offer's secret, certifies that device's key with the root key. Only devices holding the
 * root key can pair others.
 */
export class DevicePairing {
  private readonly identity: Identity
  private readonly offers = new Map<string, OpenOffer>()

  constructor(identity: Identity) {
    if (identity.rootSecret == null) {
      throw new InvalidParametersError('only a device holding the root key can pair other devices')
    }
    this.identity = identity
  }

  /** A new one-time offer. Pass its link to the other device (QR code, or copy and paste). */
  createOffer(options: CreateOfferOptions): PairingOffer {
    const ttlMs = options.ttlMs ?? DEFAULT_PAIRING_TTL_MS
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)
      throw new InvalidParametersError('ttlMs must be a positive integer')
    const offer: PairingOffer = {
      device: this.identity.deviceId,
      relays: options.relays.slice(0, MAX_LINK_RELAYS),
      id: randomBytes(16),
      secret: randomBytes(16),
      expiresAt: Date.now() + ttlMs
    }
    this.offers.set(toString(offer.id, 'base64'), {
      offer,
      failures: 0,
      state: 'open',
      shareRoot: options.shareRoot === true
    })
    return offer
  }

  /** Withdraws an offer: a link already shown stops working. */
  revokeOffer(offer: PairingOffer): void {
    this.offers.delete(toString(offer.id, 'base64'))
  }

  /** Answers one pairing request on `channel`, from the libp2p-authenticated `remote` device. */
  async answer(channel: SasChannel, remote: PeerId, handlers: PairingHandlers = {}): Promise<PairingResult> {
    let request: PairingRequest | undefined
    const fail = async (code: PairingErrorCode, message: string): Promise<never> => {
      const err = new PairingError(code, message)
      await channel.write(encode({ t: 'error', code })).catch(() => undefined)
      handlers.onError?.(err, request)
      throw err
    }
    let message: Record<string, unknown>
    try {
      message = read.map(decode(await channel.read(), MAX_PAIRING_MESSAGE_BYTES), 'pairing request')
      read.keys(message, ['t', 'id', 'name', 'proof'], 'pairing request')
      if (message.t !== 'request') throw new PairingError('PROTOCOL', 'expected a pairing request')
      request = { deviceId: remote, deviceName: read.string(message, 'name', MAX_DEVICE_NAME_LENGTH) }
    } catch (err: unknown) {
      return fail('PROTOCOL', `malformed pairing request: ${(err as Error).message}`)
    }
    const open = this.offers.get(toString(read.bytes(message, 'id', 16), 'base64'))
    if (open == null) return fail('UNKNOWN_OFFER', 'this device made no such offer (or withdrew it)')
    if (open.state === 'burned') return fail('OFFER_BURNED', 'too many wrong attempts: the offer is burned')
    if (open.state === 'used') return fail('OFFER_USED', 'the offer was already used by another device')
    if (Date.now() > open.offer.expiresAt) return fail('OFFER_EXPIRED', 'the offer has expired')
    const expected = mac(
      open.offer.secret,
      'request',
      this.identity.deviceId.toMultihash().bytes,
      remote.toMultihash().bytes,
      fromString(request.deviceName)
    )
    if (!constantTimeEqual(read.bytes(message, 'proof', 32), expected)) {
      open.failures++
      if (open.failures >= MAX_PAIRING_FAILURES) open.state = 'burned'
      return fail('WRONG_SECRET', 'the request does not prove knowledge of the offer secret')
    }
    if (remote.publicKey?.type !== 'Ed25519') return fail('PROTOCOL', 'a Kith device key is an Ed25519 key')
    // one device per offer, even while the person is still deciding
    open.state = 'used'
    const approved = await (handlers.approve ?? (() => true))(request)
    if (!approved) return fail('REJECTED', 'the owner of the existing device declined')
    const certificate = statementToBytes(
      certifyDevice(this.identity.rootSecret as Uint8Array, remote.publicKey.raw, request.deviceName)
    )
    await channel.write(
      encode({
        t: 'accept',
        cert: certificate,
        ...(open.shareRoot ? { root: this.identity.rootSecret } : {}),
        proof: mac(
          open.offer.secret,
          'accept',
          this.identity.deviceId.toMultihash().bytes,
          remote.toMultihash().bytes,
          certificate
        )
      })
    )
    const result = { ...request, certificate, root: open.shareRoot }
    handlers.onPaired?.(result)
    return result
  }

  /** Answers pairing requests on `peer` until it stops. */
  async handle(peer: Libp2p, handlers: PairingHandlers = {}): Promise<void> {
    await peer.handle(
      PAIRING_PROTOCOL,
      (stream, connection) => {
        const signal = AbortSignal.timeout(DEFAULT_PAIRING_TIMEOUT_MS)
        this.answer(channelFromStream(stream, signal), connection.remotePeer, handlers).then(
          async () => stream.close(),
          (err: unknown) => {
            stream.abort(err as Error)
          }
        )
      },
      { maxInboundStreams: 4 }
    )
  }
}

export interface PairOptions {
  /** The new device's key: the libp2p key of the peer that dials. */
  device: PrivateKey
  /** Shown on the existing device when it asks its owner, and to contacts later. */
  deviceName: string
}

/**
 * The new device's side on an open channel to the offering device: proves it holds the offer's secret, receives
 * its certificate, and returns its new identity (as the same user). Throws `PairingError` with the other side's
 * code when it refuses.
 */
export async function requestPairing(
  channel: SasChannel,
  offer: PairingOffer,
  options: PairOptions
): Promise<Identity> {
  if (options.deviceName.length === 0 || options.deviceName.length > MAX_DEVICE_NAME_LENGTH) {
    throw new InvalidParametersError(`a device name has 1 to ${MAX_DEVICE_NAME_LENGTH} characters`)
  }
  if (Date.now() > offer.expiresAt) throw new PairingError('OFFER_EXPIRED', 'the pairing link has expired')
  const self = peerIdFromPrivateKey(options.device)
  await channel.write(
    encode({
      t: 'request',
      id: offer.id,
      name: options.deviceName,
      proof: mac(
        offer.secret,
        'request',
        offer.device.toMultihash().bytes,
        self.toMultihash().bytes,
        fromString(options.deviceName)
      )
    })
  )
  let reply: Record<string, unknown>
  try {
    reply = read.map(decode(await channel.read(), MAX_PAIRING_MESSAGE_BYTES), 'pairing reply')
  } catch (err: unknown) {
    throw new PairingError('PROTOCOL', `malformed pairing reply: ${(err as Error).message}`, { cause: err })
  }
  if (reply.t === 'error') {
    const code = typeof reply.code === 'string' ? (reply.code as PairingErrorCode) : 'PROTOCOL'
    throw new PairingError(code, `the other device refused: ${code}`)
  }
  try {
    read.keys(reply, ['t', 'cert', 'root', 'proof'], 'pairing reply')
    if (reply.t !== 'accept') throw new PairingError('PROTOCOL', 'expected an accept or an error')
    const certBytes = read.bytes(reply, 'cert')
    const expected = mac(
      offer.secret,
      'accept',
      offer.device.toMultihash().bytes,
      self.toMultihash().bytes,
      certBytes
    )
    if (!constantTimeEqual(read.bytes(reply, 'proof', 32), expected)) {
      throw new PairingError('WRONG_SECRET', 'the answering device does not know the offer secret')
    }
    const certificate = statementFromBytes(certBytes)
    const cert = readDeviceCertificate(certificate)
    if (!equals(cert.device, options.device.publicKey.raw)) {
      throw new PairingError('PROTOCOL', 'the certificate is for another device')
    }
    const rootSecret = reply.root === undefined ? undefined : read.bytes(reply, 'root', 32)
    if (rootSecret != null && !equals(ed25519.getPublicKey(rootSecret), cert.user)) {
      throw new PairingError('PROTOCOL', 'the root key sent does not match the certificate')
    }
    const encSecret = x25519.utils.randomSecretKey()
    const encPublic = x25519.getPublicKey(encSecret)
    return {
      device: options.device,
      deviceId: self,
      deviceName: cert.name,
      user: cert.user,
      ...(rootSecret != null ? { rootSecret } : {}),
      certificate,
      encryption: {
        secretKey: encSecret,
        publicKey: encPublic,
        certificate: certifyEncryptionKey(deviceSecret(options.device), encPublic)
      }
    }
  } catch (err: unknown) {
    if (err instanceof PairingError) throw err
    throw new PairingError('PROTOCOL', `invalid pairing reply: ${(err as Error).message}`, { cause: err })
  }
}

/** Dials the offering device (through the link's relays) and pairs this peer's key as a device of its user. */
export async function pairWith(
  peer: Libp2p,
  offer: PairingOffer,
  options: Omit<PairOptions, 'device'> & { device: PrivateKey; timeoutMs?: number }
): Promise<Identity> {
  if (!peer.peerId.equals(peerIdFromPrivateKey(options.device))) {
    throw new InvalidParametersError('pair with the key the peer runs on: the device id is the peer id')
  }
  const signal = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_PAIRING_TIMEOUT_MS)
  // through the relays the link names, or else by peer id through this peer's own relays
  const target =
    offer.relays.length > 0
      ? offer.relays.map((relay) => multiaddr(`${relay}/p2p-circuit/webrtc/p2p/${offer.device.toString()}`))
      : offer.device
  const stream = await peer.dialProtocol(target, PAIRING_PROTOCOL, { signal })
  try {
    const identity = await requestPairing(channelFromStream(stream, signal), offer, options)
    await stream.close()
    return identity
  } catch (err: unknown) {
    stream.abort(err as Error)
    throw err
  }
}
