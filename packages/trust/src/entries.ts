/**
 * Room log entries: each one a statement signed by a member's device (`@kith/identity`'s `signAs`, type
 * `room-entry`), naming its room, the entries it follows (`prev`) and a Lamport clock. An entry's hash is SHA-256
 * of its exact bytes; the room's id is the hash of its genesis entry. Every field is read strictly: an unknown
 * field, a wrong length or a non-canonical encoding is an `EntryError`.
 */
import { read, signAs, verify } from '@kith/identity'
import { sha256 } from '@noble/hashes/sha2.js'
import { toString } from 'uint8arrays/to-string'
import { EntryError } from './errors.ts'
import type { Identity } from '@kith/identity'
import type { PeerId } from '@libp2p/interface'

export const ENTRY_TYPE = 'room-entry'
export const ENTRY_VERSION = 1
/** One entry, certificates and lockboxes included. */
export const MAX_ENTRY_BYTES = 64 * 1024
/** Entries one entry may follow. */
export const MAX_PREV = 16
/** Lockboxes in one epoch: one per member device. */
export const MAX_LOCKBOXES = 256
export const MAX_ROOM_NAME_LENGTH = 80
export const MAX_REASON_LENGTH = 80

/** A member device's copy of an epoch secret, sealed to its certified X25519 key (HPKE). */
export interface Lockbox {
  /** The device's Ed25519 key (its peer id's key). */
  device: Uint8Array
  /** HPKE encapsulated key. */
  enc: Uint8Array
  /** The sealed 32-byte secret. */
  ct: Uint8Array
}

/** A new epoch: its number, its secret sealed to each member device, and the previous secret sealed under it. */
export interface EpochKeys {
  n: number
  boxes: Lockbox[]
  /** The previous epoch's secret, encrypted under this one, so members' devices can read older data. */
  previous?: Uint8Array
}

export type EntryData =
  | { kind: 'genesis'; name: string; enc: Uint8Array; nonce: Uint8Array; epoch: EpochKeys }
  | { kind: 'invite'; id: Uint8Array; key: Uint8Array; expiresAt: number; flags: number }
  | { kind: 'burn'; id: Uint8Array; failures: number }
  | { kind: 'revoke-invite'; id: Uint8Array }
  | {
      kind: 'admit'
      id: Uint8Array
      claim: Uint8Array
      inviteSig: Uint8Array
      deviceSig: Uint8Array
      cert: Uint8Array
      enc: Uint8Array
      /** The current epoch's secret for the newcomer: the epoch entry's hash and the lockbox. */
      epoch: string
      box: Lockbox
    }
  | { kind: 'remove'; user: Uint8Array; epoch: EpochKeys }
  | { kind: 'leave' }
  | { kind: 'role'; user: Uint8Array; admin: boolean }
  | { kind: 'epoch'; reason: string; epoch: EpochKeys }

export type EntryKind = EntryData['kind']

/** A verified entry. */
export interface Entry {
  /** base64url SHA-256 of `bytes`. */
  hash: string
  bytes: Uint8Array
  /** The room id (base64url); the genesis entry has none: its hash is the room id. */
  room?: string
  prev: string[]
  lamport: number
  data: EntryData
  /** The author's root key and its base64url form. */
  user: Uint8Array
  userKey: string
  /** The signing device. */
  device: Uint8Array
  deviceId: PeerId
  deviceName: string
  /** When the author says it signed (epoch ms). */
  at: number
}

export const b64 = (bytes: Uint8Array): string => toString(bytes, 'base64url')

/** base64url SHA-256: entry hashes and room ids. */
export const hashOf = (bytes: Uint8Array): string => b64(sha256(bytes))

function encodeEpoch(epoch: EpochKeys): Record<string, unknown> {
  return {
    n: epoch.n,
    b: epoch.boxes.map((box) => ({ d: box.device, e: box.enc, c: box.ct })),
    ...(epoch.previous != null ? { p: epoch.previous } : {})
  }
}

function encodeData(data: EntryData): Record<string, unknown> {
  switch (data.kind) {
    case 'genesis':
      return { name: data.name, enc: data.enc, nonce: data.nonce, epoch: encodeEpoch(data.epoch) }
    case 'invite':
      return { id: data.id, key: data.key, exp: data.expiresAt, flags: data.flags }
    case 'burn':
      return { id: data.id, failures: data.failures }
    case 'revoke-invite':
      return { id: data.id }
    case 'admit':
      return {
        id: data.id,
        claim: data.claim,
        isig: data.inviteSig,
        dsig: data.deviceSig,
        cert: data.cert,
        enc: data.enc,
        epoch: data.epoch,
        box: { d: data.box.device, e: data.box.enc, c: data.box.ct }
      }
    case 'remove':
      return { user: data.user, epoch: encodeEpoch(data.epoch) }
    case 'leave':
      return {}
    case 'role':
      return { user: data.user, admin: data.admin }
    case 'epoch':
      return { reason: data.reason, epoch: encodeEpoch(data.epoch) }
  }
}

function readBox(value: unknown): Lockbox {
  const box = read.map(value, 'lockbox')
  read.keys(box, ['d', 'e', 'c'], 'lockbox')
  const ct = read.bytes(box, 'c')
  if (ct.byteLength > 128) throw new EntryError('a lockbox holds one 32-byte secret')
  return { device: read.bytes(box, 'd', 32), enc: read.bytes(box, 'e', 32), ct }
}

function readEpoch(value: unknown): EpochKeys {
  const map = read.map(value, 'epoch')
  read.keys(map, ['n', 'b', 'p'], 'epoch')
  const boxes = map.b
  if (!Array.isArray(boxes) || boxes.length > MAX_LOCKBOXES) {
    throw new EntryError(`an epoch has at most ${MAX_LOCKBOXES} lockboxes`)
  }
  const n = read.uint(map, 'n')
  if (n < 1) throw new EntryError('epochs count from 1')
  return {
    n,
    boxes: boxes.map(readBox),
    ...(map.p !== undefined ? { previous: read.bytes(map, 'p') } : {})
  }
}

function readBool(map: Record<string, unknown>, key: string): boolean {
  const value = map[key]
  if (typeof value !== 'boolean') throw new EntryError(`${key} is not a boolean`)
  return value
}

function readData(kind: string, map: Record<string, unknown>): EntryData {
  const only = (keys: string[]): void => {
    read.keys(map, keys, `${kind} entry`)
  }
  switch (kind) {
    case 'genesis':
      only(['name', 'enc', 'nonce', 'epoch'])
      return {
        kind,
        name: read.string(map, 'name', MAX_ROOM_NAME_LENGTH),
        enc: read.bytes(map, 'enc'),
        nonce: read.bytes(map, 'nonce', 16),
        epoch: readEpoch(map.epoch)
      }
    case 'invite':
      only(['id', 'key', 'exp', 'flags'])
      return {
        kind,
        id: read.bytes(map, 'id', 16),
        key: read.bytes(map, 'key', 32),
        expiresAt: read.uint(map, 'exp'),
        flags: read.uint(map, 'flags')
      }
    case 'burn':
      only(['id', 'failures'])
      return { kind, id: read.bytes(map, 'id', 16), failures: read.uint(map, 'failures') }
    case 'revoke-invite':
      only(['id'])
      return { kind, id: read.bytes(map, 'id', 16) }
    case 'admit':
      only(['id', 'claim', 'isig', 'dsig', 'cert', 'enc', 'epoch', 'box'])
      return {
        kind,
        id: read.bytes(map, 'id', 16),
        claim: read.bytes(map, 'claim'),
        inviteSig: read.bytes(map, 'isig', 64),
        deviceSig: read.bytes(map, 'dsig', 64),
        cert: read.bytes(map, 'cert'),
        enc: read.bytes(map, 'enc'),
        epoch: read.string(map, 'epoch', 43),
        box: readBox(map.box)
      }
    case 'remove':
      only(['user', 'epoch'])
      return { kind, user: read.bytes(map, 'user', 32), epoch: readEpoch(map.epoch) }
    case 'leave':
      only([])
      return { kind }
    case 'role':
      only(['user', 'admin'])
      return { kind, user: read.bytes(map, 'user', 32), admin: readBool(map, 'admin') }
    case 'epoch':
      only(['reason', 'epoch'])
      return { kind, reason: read.string(map, 'reason', MAX_REASON_LENGTH), epoch: readEpoch(map.epoch) }
    default:
      throw new EntryError(`unknown entry kind "${kind}"`)
  }
}

/** Where a new entry goes: the room (absent for a genesis) and the entries it follows. */
export interface EntryPosition {
  room?: string
  prev: Entry[]
}

/** Signs a new entry as `identity`'s device. Its Lamport clock is one more than the highest of `prev`. */
export function createEntry(
  identity: Identity,
  position: EntryPosition,
  data: EntryData,
  at = Date.now()
): Entry {
  if (position.prev.length > MAX_PREV) throw new EntryError(`an entry follows at most ${MAX_PREV} entries`)
  const prev = [...new Set(position.prev.map((entry) => entry.hash))].sort()
  const lamport = position.prev.reduce((max, entry) => Math.max(max, entry.lamport), 0) + 1
  const body = {
    v: ENTRY_VERSION,
    ...(position.room != null ? { r: position.room } : {}),
    p: prev,
    n: position.room == null ? 0 : lamport,
    k: data.kind,
    d: encodeData(data)
  }
  return readEntry(signAs(identity, ENTRY_TYPE, body, at))
}

/**
 * Reads and verifies an entry's bytes on its own: canonical encoding, size, signature, the device certificate,
 * and the shape of its kind. Whether it fits a room (its room, its `prev`, its clock, its author's rights) is the
 * log's and the reducer's business. Throws `EntryError`.
 */
export function readEntry(bytes: Uint8Array): Entry {
  let verified
  try {
    verified = verify<unknown>(bytes, { type: ENTRY_TYPE, maxBytes: MAX_ENTRY_BYTES })
  } catch (err: unknown) {
    throw new EntryError(`the entry does not verify: ${(err as Error).message}`, { cause: err })
  }
  try {
    const body = read.map(verified.body, 'entry')
    read.keys(body, ['v', 'r', 'p', 'n', 'k', 'd'], 'entry')
    if (read.uint(body, 'v') !== ENTRY_VERSION) throw new EntryError(`entry version is not ${ENTRY_VERSION}`)
    const prev = read.strings(body, 'p', MAX_PREV, 43)
    for (let i = 1; i < prev.length; i++) {
      if ((prev[i - 1] as string) >= (prev[i] as string))
        throw new EntryError('prev is not sorted and unique')
    }
    const kind = read.string(body, 'k', 16)
    const room = body.r === undefined ? undefined : read.string(body, 'r', 43)
    if ((room == null) !== (kind === 'genesis')) throw new EntryError('only a genesis entry has no room')
    if (kind === 'genesis' && prev.length > 0) throw new EntryError('a genesis entry follows nothing')
    if (kind !== 'genesis' && prev.length === 0) throw new EntryError('an entry follows at least one entry')
    const lamport = read.uint(body, 'n')
    if ((kind === 'genesis') !== (lamport === 0)) throw new EntryError('only a genesis entry has clock 0')
    return {
      hash: hashOf(bytes),
      bytes,
      ...(room != null ? { room } : {}),
      prev,
      lamport,
      data: readData(kind, read.map(body.d, 'entry data')),
      user: verified.user,
      userKey: b64(verified.user),
      device: verified.device,
      deviceId: verified.deviceId,
      deviceName: verified.deviceName,
      at: verified.at
    }
  } catch (err: unknown) {
    if (err instanceof EntryError) throw err
    throw new EntryError(`malformed entry: ${(err as Error).message}`, { cause: err })
  }
}
