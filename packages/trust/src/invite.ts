/**
 * Invite links: `https://<app>/#kith=<base64url(DAG-CBOR)>`. Everything is in the URL fragment, which browsers never
 * send to a server; apps remove it from the address bar once read. The link's 32-byte secret is the invite: its id
 * and its signing key are derived from it, so the room's log holds only the id and the public key, and only the
 * holder of the link can answer the PIN challenge and sign the claim.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import * as dagCbor from '@ipld/dag-cbor'
import { peerIdFromString } from '@libp2p/peer-id'
import { equals } from 'uint8arrays/equals'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { lvCat } from './cpace.ts'
import type { PeerId } from '@libp2p/interface'

export const INVITE_VERSION = 1
/** The fragment key: `#kith=…`. */
export const INVITE_FRAGMENT = 'kith'
export const INVITE_SECRET_BYTES = 32
export const ROOM_ID_BYTES = 32
export const MAX_INVITE_RELAYS = 4
export const MAX_INVITE_LINK_BYTES = 2048
export const DEFAULT_INVITE_TTL_MS = 24 * 60 * 60 * 1000

/** What an invite lets its holder do once admitted. */
export const InviteFlags = {
  /** The newcomer may invite others. */
  MayInvite: 1
} as const

/** A link that is not a Kith invite, or a damaged one. */
export class InviteLinkError extends Error {
  static override name = 'InviteLinkError'
  constructor(message = 'Not a Kith invite link', options?: ErrorOptions) {
    super(message, options)
    this.name = 'InviteLinkError'
  }
}

export interface Invite {
  /** The member who made it, to dial. */
  inviter: PeerId
  /** Relays the inviter holds reservations on. */
  relays: string[]
  room: Uint8Array
  /** 32 random bytes: the invite itself. */
  secret: Uint8Array
  expiresAt: number
  flags: number
}

/** What the room's log records of an invite: its id and public key, never the secret. */
export interface InviteKeys {
  id: Uint8Array
  publicKey: Uint8Array
  secretKey: Uint8Array
}

export interface CreateInviteInit {
  inviter: PeerId
  relays: string[]
  room: Uint8Array
  /** @default one day */
  ttlMs?: number
  /** @default 0 */
  flags?: number
}

export function createInvite(init: CreateInviteInit, now = Date.now()): Invite {
  if (init.room.byteLength !== ROOM_ID_BYTES)
    throw new InviteLinkError(`a room id has ${ROOM_ID_BYTES} bytes`)
  const ttlMs = init.ttlMs ?? DEFAULT_INVITE_TTL_MS
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)
    throw new InviteLinkError('ttlMs must be a positive integer')
  return {
    inviter: init.inviter,
    relays: init.relays.slice(0, MAX_INVITE_RELAYS),
    room: init.room,
    secret: randomBytes(INVITE_SECRET_BYTES),
    expiresAt: now + ttlMs,
    flags: init.flags ?? 0
  }
}

/** The invite's id (16 bytes) and Ed25519 key pair, derived from its secret. */
export function inviteKeys(secret: Uint8Array): InviteKeys {
  if (secret.byteLength !== INVITE_SECRET_BYTES) throw new InviteLinkError('an invite secret has 32 bytes')
  const id = sha256(lvCat(new TextEncoder().encode('kith/invite/id/v1'), secret)).slice(0, 16)
  const secretKey = hkdf(
    sha256,
    secret,
    new Uint8Array(0),
    new TextEncoder().encode('kith/invite/key/v1'),
    32
  )
  return { id, secretKey, publicKey: ed25519.getPublicKey(secretKey) }
}

/**
 * CPace's password-related string: the invite secret and the PIN (NFKC, spaces removed), so neither alone is
 * enough — a stolen link without the PIN, or the PIN without the link, gives one guess per run.
 */
export function pinPassword(secret: Uint8Array, pin: string): Uint8Array {
  const normalized = pin.normalize('NFKC').replace(/\s+/g, '')
  if (normalized.length < 4 || normalized.length > 32)
    throw new InviteLinkError('a PIN has 4 to 32 characters')
  return lvCat(secret, new TextEncoder().encode(normalized))
}

/** `base` with the invite in its fragment. */
export function inviteLink(invite: Invite, base: string): string {
  const payload = dagCbor.encode({
    v: INVITE_VERSION,
    i: invite.inviter.toString(),
    r: invite.relays,
    m: invite.room,
    s: invite.secret,
    e: invite.expiresAt,
    f: invite.flags
  })
  return `${base.split('#')[0] ?? base}#${INVITE_FRAGMENT}=${toString(payload, 'base64url')}`
}

/** The invite in a link (or in its fragment alone). Throws `InviteLinkError` saying what is wrong. */
export function readInviteLink(link: string): Invite {
  const fragment = link.includes('#') ? link.slice(link.indexOf('#') + 1) : link
  const prefix = `${INVITE_FRAGMENT}=`
  if (!fragment.startsWith(prefix)) throw new InviteLinkError('this is not a Kith invite link')
  const encoded = fragment.slice(prefix.length)
  if (encoded.length > MAX_INVITE_LINK_BYTES) throw new InviteLinkError('the invite link is too long')
  let value: unknown
  let bytes: Uint8Array
  try {
    bytes = fromString(encoded, 'base64url')
    value = dagCbor.decode(bytes)
  } catch (err: unknown) {
    throw new InviteLinkError('the invite link is damaged (it may have been cut off)', { cause: err })
  }
  if (!equals(dagCbor.encode(value), bytes))
    throw new InviteLinkError('the invite link is not in canonical form')
  if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new InviteLinkError('the invite link is damaged')
  }
  const map = value as Record<string, unknown>
  for (const key of Object.keys(map)) {
    if (!['v', 'i', 'r', 'm', 's', 'e', 'f'].includes(key))
      throw new InviteLinkError(`unknown invite field "${key}"`)
  }
  if (map.v !== INVITE_VERSION)
    throw new InviteLinkError(`this invite is version ${String(map.v)}; this app reads ${INVITE_VERSION}`)
  const relays = map.r
  if (
    !Array.isArray(relays) ||
    relays.length > MAX_INVITE_RELAYS ||
    relays.some((r) => typeof r !== 'string' || r.length > 512)
  ) {
    throw new InviteLinkError('the relays in the invite are malformed')
  }
  if (!(map.m instanceof Uint8Array) || map.m.byteLength !== ROOM_ID_BYTES)
    throw new InviteLinkError('bad room id')
  if (!(map.s instanceof Uint8Array) || map.s.byteLength !== INVITE_SECRET_BYTES) {
    throw new InviteLinkError('bad invite secret')
  }
  const uint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
  if (!uint(map.e) || !uint(map.f)) throw new InviteLinkError('bad expiry or flags')
  let inviter: PeerId
  try {
    if (typeof map.i !== 'string' || map.i.length > 128) throw new InviteLinkError('bad inviter')
    inviter = peerIdFromString(map.i)
  } catch (err: unknown) {
    throw new InviteLinkError('the inviter in the link is not a device id', { cause: err })
  }
  return {
    inviter,
    relays: relays as string[],
    room: map.m,
    secret: map.s,
    expiresAt: map.e,
    flags: map.f
  }
}
