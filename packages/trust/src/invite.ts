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
import { fragmentLink, read, readFragment } from '@kith/identity'
import { peerIdFromString } from '@libp2p/peer-id'
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
  return fragmentLink(base, INVITE_FRAGMENT, {
    v: INVITE_VERSION,
    i: invite.inviter.toString(),
    r: invite.relays,
    m: invite.room,
    s: invite.secret,
    e: invite.expiresAt,
    f: invite.flags
  })
}

/** The invite in a link (or in its fragment alone). Throws `InviteLinkError` saying what is wrong. */
export function readInviteLink(link: string): Invite {
  let map: Record<string, unknown> | undefined
  try {
    map = readFragment(link, INVITE_FRAGMENT, MAX_INVITE_LINK_BYTES)
  } catch (err: unknown) {
    throw new InviteLinkError(`the invite link is damaged: ${(err as Error).message}`, { cause: err })
  }
  if (map == null) throw new InviteLinkError('this is not a Kith invite link')
  try {
    read.keys(map, ['v', 'i', 'r', 'm', 's', 'e', 'f'], 'invite')
    const version = read.uint(map, 'v')
    if (version !== INVITE_VERSION) {
      throw new InviteLinkError(`this invite is version ${version}; this app reads ${INVITE_VERSION}`)
    }
    return {
      inviter: peerIdFromString(read.string(map, 'i', 128)),
      relays: read.strings(map, 'r', MAX_INVITE_RELAYS, 512),
      room: read.bytes(map, 'm', ROOM_ID_BYTES),
      secret: read.bytes(map, 's', INVITE_SECRET_BYTES),
      expiresAt: read.uint(map, 'e'),
      flags: read.uint(map, 'f')
    }
  } catch (err: unknown) {
    if (err instanceof InviteLinkError) throw err
    throw new InviteLinkError(`the invite link is damaged: ${(err as Error).message}`, { cause: err })
  }
}
