/**
 * One device's replica of a room: its log, the state reduced from it, the epoch secrets this device can open, and
 * the invites this device made and still holds the secrets of. Network-agnostic: `Rooms` moves entries between
 * replicas and runs the invite exchange.
 */
import { decode, encode, read, statementToBytes } from '@kith/identity'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { TypedEventEmitter } from 'main-event'
import { equals } from 'uint8arrays/equals'
import { fromString } from 'uint8arrays/from-string'
import { b64, createEntry, MAX_PREV, readEntry } from './entries.ts'
import { EntryError, RoomError } from './errors.ts'
import { createInvite, inviteKeys, inviteLink, pinPassword, readInviteLink } from './invite.ts'
import {
  dataKey,
  newEpochSecret,
  openData,
  openLockbox,
  openPrevious,
  sealData,
  sealedEpoch,
  sealEpoch,
  sealTo
} from './keys.ts'
import { reduceRoom } from './reducer.ts'
import type { AdmissionEvidence } from './claim.ts'
import type { Entry, EntryData, EpochKeys } from './entries.ts'
import type { Invite } from './invite.ts'
import type { Recipient } from './keys.ts'
import type { Member, RoomState } from './reducer.ts'
import type { Identity } from '@kith/identity'
import type { PeerId } from '@libp2p/interface'

/** Entries one room's log holds; past it, new entries are refused (`LOG_FULL`). */
export const MAX_ROOM_ENTRIES = 4096
/** Entries held while they wait for the entries they follow. */
export const MAX_PENDING_ENTRIES = 1024
/** Wrong PINs an invite tolerates; the third burns it. */
export const MAX_PIN_FAILURES = 3
export const DEFAULT_PIN_DIGITS = 6
const MAX_STORED_ROOM_BYTES = MAX_ROOM_ENTRIES * 70 * 1024

/** An invite this device made: the only place its secret and PIN live. */
export interface HeldInvite {
  invite: Invite
  pin: string
  failures: number
  /** A redemption is running: others get `BUSY`. */
  busy: boolean
}

export interface CreatedInvite {
  invite: Invite
  /** The link to send (the invite rides in its fragment). */
  link: string
  /** Tell it out of band — on the phone, in person. */
  pin: string
  /** The invite's id (base64url), as the log and the events name it. */
  id: string
}

export interface InviteOptions {
  /** Relays the newcomer can reach this device through: the peer's own. */
  relays: string[]
  /** The app's address; the invite goes into its fragment. */
  base: string
  /** @default one day */
  ttlMs?: number
  /** `InviteFlags`: e.g. let the newcomer invite others. @default 0 */
  flags?: number
  /** @default 6 random digits */
  pin?: string
}

export interface InviteFailure {
  invite: string
  peer: PeerId
  failures: number
}

export interface RoomEvents {
  /** The state changed (new entries, a new epoch key opened). */
  change: CustomEvent<RoomState>
  /** A wrong PIN (or wrong link secret) was tried on one of this device's invites. */
  'invite:failed': CustomEvent<InviteFailure>
  /** An invite took its third wrong PIN and is burned. */
  'invite:burned': CustomEvent<InviteFailure>
  /** Someone tried an invite that was already used: the admitted member may be an impostor. */
  'invite:reused': CustomEvent<{ invite: string; peer: PeerId; admitted?: Member }>
  /** A newcomer joined with one of this device's invites. */
  'invite:redeemed': CustomEvent<{ invite: string; member: Member }>
}

/** A random numeric PIN, each digit uniform. */
export function randomPin(digits = DEFAULT_PIN_DIGITS): string {
  let pin = ''
  while (pin.length < digits) {
    const byte = randomBytes(1)[0] as number
    if (byte < 250) pin += String(byte % 10)
  }
  return pin
}

export class Room extends TypedEventEmitter<RoomEvents> {
  readonly id: string
  readonly identity: Identity
  state: RoomState
  private deviceIds?: { state: RoomState; ids: Set<string> }
  private logDigest?: { state: RoomState; bytes: Uint8Array }
  private others?: { state: RoomState; ids: PeerId[] }
  private readonly entries = new Map<string, Entry>()
  private readonly waiting = new Map<string, Entry>()
  private readonly held = new Map<string, HeldInvite>()
  private readonly secrets = new Map<number, Uint8Array>()

  private constructor(identity: Identity, genesis: Entry) {
    super()
    this.identity = identity
    this.id = genesis.hash
    this.entries.set(genesis.hash, genesis)
    this.state = reduceRoom(this.entries.values())
  }

  /** A new room with `identity` as its founder and admin. */
  static async create(identity: Identity, name: string): Promise<Room> {
    const secret = newEpochSecret()
    const nonce = randomBytes(16)
    // the genesis names no room (its hash is the room id), so its lockbox is bound to the nonce instead
    const epoch = await sealEpoch({ room: b64(nonce), n: 1, secret }, [selfRecipient(identity)])
    const genesis = createEntry(
      identity,
      { prev: [] },
      { kind: 'genesis', name, enc: statementBytes(identity), nonce, epoch }
    )
    const room = new Room(identity, genesis)
    room.secrets.set(1, secret)
    return room
  }

  /** A replica from a log's entries (any order); throws `RoomError` (`INVALID`) without a valid genesis. */
  static fromEntries(identity: Identity, entries: Uint8Array[], expected?: string): Room {
    const parsed: Entry[] = []
    for (const bytes of entries) {
      try {
        parsed.push(readEntry(bytes))
      } catch {
        // a damaged entry is left out; the rest may still form the log
      }
    }
    const genesis = parsed.find((e) => e.data.kind === 'genesis' && (expected == null || e.hash === expected))
    if (genesis == null) throw new RoomError('INVALID', 'the log has no genesis entry for this room')
    const room = new Room(identity, genesis)
    room.add(parsed.filter((e) => e !== genesis))
    return room
  }

  get name(): string {
    return this.state.name
  }

  /** This user, if a member. */
  get me(): Member | undefined {
    return this.member(this.identity.user)
  }

  member(user: Uint8Array | string): Member | undefined {
    const key = typeof user === 'string' ? user : b64(user)
    return this.state.members.find((m) => m.userKey === key)
  }

  /** Whether `peer` is a device of a current member (quarantined members included). */
  isMemberDevice(peer: PeerId | string): boolean {
    return this.memberDeviceIds().has(typeof peer === 'string' ? peer : peer.toString())
  }

  /** The peer ids of every member's devices, as strings: computed once per state, since it is asked per message. */
  private memberDeviceIds(): Set<string> {
    if (this.deviceIds?.state !== this.state) {
      const ids = new Set(this.state.members.flatMap((m) => m.devices.map((d) => d.deviceId.toString())))
      this.deviceIds = { state: this.state, ids }
    }
    return this.deviceIds.ids
  }

  /** Devices of other members (worked out once per state: asked per edit, and per message in places). */
  otherDevices(): PeerId[] {
    if (this.others?.state !== this.state) {
      const ids = this.state.members
        .flatMap((m) => m.devices.map((d) => d.deviceId))
        .filter((id) => !id.equals(this.identity.deviceId))
      this.others = { state: this.state, ids }
    }
    return [...this.others.ids]
  }

  has(hash: string): boolean {
    return this.entries.has(hash)
  }

  hashes(): string[] {
    return [...this.entries.keys()]
  }

  /**
   * SHA-256 of the sorted entry hashes, one per line: two devices holding the same log have the same digest, so a
   * sync between them need not list every hash (computed once per state).
   */
  digest(): Uint8Array {
    if (this.logDigest?.state !== this.state) {
      const bytes = sha256(fromString([...this.entries.keys()].sort().join('\n')))
      this.logDigest = { state: this.state, bytes }
    }
    return this.logDigest.bytes
  }

  get size(): number {
    return this.entries.size
  }

  /** Entries `have` lacks, as bytes, oldest first (so a receiver can add them in one go). */
  missing(have: Iterable<string>): Uint8Array[] {
    const known = new Set(have)
    return [...this.entries.values()]
      .filter((e) => !known.has(e.hash))
      .sort((a, b) => a.lamport - b.lamport)
      .map((e) => e.bytes)
  }

  /** Every entry, oldest first. */
  log(): Uint8Array[] {
    return this.missing([])
  }

  /**
   * Adds entries from another replica (bytes or already-read entries). Entries whose predecessors are missing wait
   * for them. Returns how many joined the log and why others were refused; never throws for bad input.
   */
  add(input: Iterable<Uint8Array | Entry>): { added: number; rejected: string[] } {
    const rejected: string[] = []
    let added = 0
    for (const item of input) {
      let entry: Entry
      try {
        entry = item instanceof Uint8Array ? readEntry(item) : item
        if (entry.room !== this.id) throw new EntryError('the entry is for another room')
      } catch (err: unknown) {
        rejected.push((err as Error).message)
        continue
      }
      if (this.entries.has(entry.hash) || this.waiting.has(entry.hash)) continue
      if (this.waiting.size >= MAX_PENDING_ENTRIES) {
        rejected.push('too many entries waiting for their predecessors')
        continue
      }
      this.waiting.set(entry.hash, entry)
    }
    for (let progress = true; progress;) {
      progress = false
      for (const entry of this.waiting.values()) {
        const prev = entry.prev.map((hash) => this.entries.get(hash))
        if (prev.some((p) => p == null)) continue
        this.waiting.delete(entry.hash)
        const lamport = prev.reduce((max, p) => Math.max(max, (p as Entry).lamport), 0) + 1
        if (entry.lamport !== lamport) {
          rejected.push('the entry clock is not one more than the entries it follows')
          continue
        }
        if (this.entries.size >= MAX_ROOM_ENTRIES) {
          rejected.push(`the room log is full (${MAX_ROOM_ENTRIES} entries)`)
          continue
        }
        this.entries.set(entry.hash, entry)
        added++
        progress = true
      }
    }
    if (added > 0) this.refresh()
    return { added, rejected }
  }

  private refresh(): void {
    this.state = reduceRoom(this.entries.values())
    this.safeDispatchEvent('change', { detail: this.state })
  }

  /** Appends an entry authored by this device after every current head. */
  append(data: EntryData): Entry {
    if (this.me == null) throw new RoomError('NOT_MEMBER', 'this device is not a member of the room')
    if (this.entries.size >= MAX_ROOM_ENTRIES) throw new RoomError('LOG_FULL', 'the room log is full')
    const heads = this.state.heads.slice(-MAX_PREV).map((hash) => this.entries.get(hash) as Entry)
    const entry = createEntry(this.identity, { room: this.id, prev: heads }, data)
    this.entries.set(entry.hash, entry)
    this.refresh()
    if (this.state.dropped.some((d) => d.entry === entry.hash)) {
      const reason = this.state.dropped.find((d) => d.entry === entry.hash)?.reason ?? ''
      this.entries.delete(entry.hash)
      this.refresh()
      throw new RoomError('INVALID', `the room refuses this ${data.kind}: ${reason}`)
    }
    return entry
  }

  /** The secret of epoch `n` (default: the current one), opened from this device's lockbox. */
  async epochSecret(n = this.state.epoch.n): Promise<Uint8Array> {
    const known = this.secrets.get(n)
    if (known != null) return known
    const epoch = this.state.epochs.find((e) => e.n === n)
    if (epoch == null) throw new RoomError('NO_KEY', `the room has no epoch ${n}`)
    const box = epoch.boxes.find((b) => equals(b.device, this.identity.device.publicKey.raw))
    let secret: Uint8Array
    if (box != null) {
      secret = await openLockbox(box, this.identity.encryption.secretKey, this.lockboxRoom(n), n)
    } else {
      const next = this.state.epochs.find((e) => e.n === n + 1)
      if (next?.previous == null) throw new RoomError('NO_KEY', `this device holds no key for epoch ${n}`)
      secret = openPrevious(next.previous, await this.epochSecret(n + 1), this.id, n + 1)
    }
    this.secrets.set(n, secret)
    return secret
  }

  /** Epoch 1's lockboxes are bound to the genesis nonce (the room id did not exist yet). */
  private lockboxRoom(n: number): string {
    const genesis = this.entries.get(this.id) as Entry
    return n === 1 && genesis.data.kind === 'genesis' ? b64(genesis.data.nonce) : this.id
  }

  /** Encrypts `plaintext` under the current epoch: only devices of current members can open it. */
  async seal(plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    const n = this.state.epoch.n
    return sealData(dataKey(await this.epochSecret(n), this.id, n), n, plaintext, aad)
  }

  /** Opens what a member sealed. Throws `RoomError` (`NO_KEY`) for an epoch this device has no key for. */
  async open(sealed: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    const parsed = sealedEpoch(sealed)
    return openData(dataKey(await this.epochSecret(parsed.n), this.id, parsed.n), parsed, aad)
  }

  /** Makes a one-time invite: appends its id and public key to the log, keeps its secret and PIN here. */
  createInvite(options: InviteOptions): CreatedInvite {
    const me = this.me
    if (me == null) throw new RoomError('NOT_MEMBER', 'this device is not a member of the room')
    if (!me.mayInvite) throw new RoomError('NOT_ADMIN', 'this member may not invite')
    const invite = createInvite({
      inviter: this.identity.deviceId,
      relays: options.relays,
      room: roomBytes(this.id),
      ...(options.ttlMs != null ? { ttlMs: options.ttlMs } : {}),
      ...(options.flags != null ? { flags: options.flags } : {})
    })
    const pin = options.pin ?? randomPin()
    // the PIN is checked by the same rule the exchange applies, before anything is logged
    pinPassword(invite.secret, pin)
    const keys = inviteKeys(invite.secret)
    this.append({
      kind: 'invite',
      id: keys.id,
      key: keys.publicKey,
      expiresAt: invite.expiresAt,
      flags: invite.flags
    })
    const id = b64(keys.id)
    this.held.set(id, { invite, pin, failures: 0, busy: false })
    return { invite, link: inviteLink(invite, options.base), pin, id }
  }

  /** Whether this device holds an invite that can still be redeemed. */
  hasHeldInvites(): boolean {
    const now = Date.now()
    return [...this.held.values()].some((h) => h.invite.expiresAt > now)
  }

  /** The invites this device holds, by id. */
  heldInvites(): Array<HeldInvite & { id: string }> {
    return [...this.held.entries()].map(([id, held]) => ({ id, ...held }))
  }

  /** The invite this device holds under `id`, if any. */
  heldInvite(id: string): HeldInvite | undefined {
    return this.held.get(id)
  }

  /** Withdraws an invite: the link stops working for everyone. */
  revokeInvite(id: string): void {
    const record = this.state.invites.find((i) => i.idKey === id)
    if (record == null) throw new RoomError('INVALID', 'no such invite')
    this.held.delete(id)
    this.append({ kind: 'revoke-invite', id: record.id })
  }

  /** Counts a wrong PIN on a held invite; the third burns it (logged, so every member knows). */
  recordFailure(id: string, peer: PeerId): boolean {
    const held = this.held.get(id)
    if (held == null) return false
    held.failures++
    const detail = { invite: id, peer, failures: held.failures }
    this.safeDispatchEvent('invite:failed', { detail })
    if (held.failures < MAX_PIN_FAILURES) return false
    this.held.delete(id)
    const record = this.state.invites.find((i) => i.idKey === id)
    if (record != null) this.append({ kind: 'burn', id: record.id, failures: held.failures })
    this.safeDispatchEvent('invite:burned', { detail })
    return true
  }

  /** Admits a newcomer whose claim this device checked: the ADMIT entry, with the current epoch's secret sealed to it. */
  async admit(id: string, evidence: AdmissionEvidence, recipient: Recipient): Promise<Entry> {
    const record = this.state.invites.find((i) => i.idKey === id)
    if (record == null) throw new RoomError('INVALID', 'no such invite')
    const n = this.state.epoch.n
    const box = await sealTo(recipient, await this.epochSecret(n), this.lockboxRoom(n), n)
    const entry = this.append({
      kind: 'admit',
      id: record.id,
      ...evidence,
      epoch: this.state.epoch.entry,
      box
    })
    this.held.delete(id)
    const member = this.state.members.find((m) => m.since === entry.hash)
    if (member != null) this.safeDispatchEvent('invite:redeemed', { detail: { invite: id, member } })
    return entry
  }

  private recipients(except?: string): Recipient[] {
    return this.state.members
      .filter((m) => m.userKey !== except && !m.quarantined)
      .flatMap((m) => m.devices.map((d) => ({ device: d.device, enc: d.enc })))
  }

  private async nextEpoch(except?: string): Promise<{ secret: Uint8Array; epoch: EpochKeys }> {
    const n = this.state.epoch.n + 1
    const secret = newEpochSecret()
    const previous = await this.epochSecret().catch(() => undefined)
    const epoch = await sealEpoch(
      { room: this.id, n, secret, ...(previous != null ? { previous } : {}) },
      this.recipients(except)
    )
    return { secret, epoch }
  }

  /** Removes a member (admins only) and starts a new epoch the removed member cannot open. */
  async remove(user: Uint8Array | string): Promise<Entry> {
    const member = this.member(user)
    if (member == null) throw new RoomError('INVALID', 'not a member of this room')
    if (this.me?.admin !== true) throw new RoomError('NOT_ADMIN', 'only an admin may remove members')
    const { secret, epoch } = await this.nextEpoch(member.userKey)
    const entry = this.append({ kind: 'remove', user: member.user, epoch })
    this.secrets.set(epoch.n, secret)
    return entry
  }

  /** Starts a new epoch for the current members (admins only): after a leave, a quarantine, a suspected leak. */
  async rotate(reason = 'rotation'): Promise<Entry> {
    if (this.me?.admin !== true) throw new RoomError('NOT_ADMIN', 'only an admin may rotate the room key')
    const { secret, epoch } = await this.nextEpoch()
    const entry = this.append({ kind: 'epoch', reason: reason.slice(0, 80), epoch })
    this.secrets.set(epoch.n, secret)
    return entry
  }

  /** Leaves the room; an admin starts a new epoch when it sees the leave. */
  leave(): Entry {
    return this.append({ kind: 'leave' })
  }

  /** Makes another member an admin, or not (admins only). */
  setAdmin(user: Uint8Array | string, admin: boolean): Entry {
    const member = this.member(user)
    if (member == null) throw new RoomError('INVALID', 'not a member of this room')
    if (this.me?.admin !== true) throw new RoomError('NOT_ADMIN', 'only an admin may change roles')
    return this.append({ kind: 'role', user: member.user, admin })
  }

  /** The log and the held invites, for storage on this device (the invites hold secrets: store as such). */
  toBytes(): Uint8Array {
    return encode({
      v: 1,
      log: this.log(),
      invites: [...this.held.values()].map((h) => ({
        link: inviteLink(h.invite, 'kith:'),
        pin: h.pin,
        failures: h.failures
      }))
    })
  }

  /** A replica from `toBytes` output. Throws `RoomError` (`INVALID`) for anything else. */
  static fromBytes(identity: Identity, bytes: Uint8Array): Room {
    let map: Record<string, unknown>
    try {
      map = read.map(decode(bytes, MAX_STORED_ROOM_BYTES), 'stored room')
      read.keys(map, ['v', 'log', 'invites'], 'stored room')
    } catch (err: unknown) {
      throw new RoomError('INVALID', 'not a stored room', { cause: err })
    }
    const log = Array.isArray(map.log) ? map.log.filter((e): e is Uint8Array => e instanceof Uint8Array) : []
    const room = Room.fromEntries(identity, log)
    for (const item of Array.isArray(map.invites) ? map.invites : []) {
      try {
        const held = read.map(item, 'held invite')
        const invite = readInviteLink(read.string(held, 'link', 4096))
        room.held.set(b64(inviteKeys(invite.secret).id), {
          invite,
          pin: read.string(held, 'pin', 32),
          failures: read.uint(held, 'failures'),
          busy: false
        })
      } catch {
        // a damaged invite is dropped: its link stops working
      }
    }
    return room
  }
}

function selfRecipient(identity: Identity): Recipient {
  return { device: identity.device.publicKey.raw, enc: identity.encryption.publicKey }
}

function statementBytes(identity: Identity): Uint8Array {
  return statementToBytes(identity.encryption.certificate)
}

/** The 32 bytes of a room id. */
export function roomBytes(room: string): Uint8Array {
  let bytes: Uint8Array
  try {
    bytes = fromString(room, 'base64url')
  } catch (err: unknown) {
    throw new RoomError('INVALID', 'a room id is base64url', { cause: err })
  }
  if (bytes.byteLength !== 32) throw new RoomError('INVALID', 'a room id has 32 bytes')
  return bytes
}
