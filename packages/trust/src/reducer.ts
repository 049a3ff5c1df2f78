/**
 * The room's state from its log, computed the same way by every replica that holds the same entries.
 *
 * Order: entries sorted by (Lamport clock, hash), which is a topological order because an entry's clock is one
 * more than the highest clock it follows. Each entry is checked against the state *at its causal point* — what its
 * own ancestors say — so an entry that a member could not have known of never justifies another. Concurrent
 * conflicts resolve by rules every replica applies alike:
 * - a removed member's acts concurrent with its removal are dropped, and so is a concurrent re-admission;
 * - a demoted admin's concurrent admin acts are dropped;
 * - when both sides of a conflict would drop each other (mutual removal), the junior member's acts go first
 *   (seniority = order of admission; the founder is the most senior);
 * - two concurrent admissions on one single-use invite are both quarantined;
 * - two entries by one device that do not follow one another are flagged as equivocation.
 */
import { readEncryptionKeyCertificate, statementFromBytes, userIdFromRoot } from '@kith/identity'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { equals } from 'uint8arrays/equals'
import { checkAdmission, readClaim } from './claim.ts'
import { b64 } from './entries.ts'
import { InviteFlags } from './invite.ts'
import type { Entry, EpochKeys, Lockbox } from './entries.ts'
import type { UserId } from '@kith/identity'
import type { PeerId } from '@libp2p/interface'

export interface MemberDevice {
  deviceId: PeerId
  /** The device's Ed25519 key. */
  device: Uint8Array
  name: string
  /** Its certified X25519 key. */
  enc: Uint8Array
}

export interface Member {
  user: Uint8Array
  /** base64url of the root key: the key of `members`. */
  userKey: string
  userId: UserId
  /** The first device's name. */
  name: string
  founder: boolean
  admin: boolean
  mayInvite: boolean
  /** The entry that admitted the member (the genesis for the founder). */
  since: string
  /** Who admitted the member (base64url root key); absent for the founder. */
  invitedBy?: string
  /** Admitted twice on one invite in two partitions: kept out of new epochs until an admin re-admits or removes. */
  quarantined: boolean
  devices: MemberDevice[]
}

export type InviteStatus = 'open' | 'used' | 'burned' | 'revoked' | 'expired'

export interface InviteRecord {
  id: Uint8Array
  idKey: string
  key: Uint8Array
  expiresAt: number
  flags: number
  /** The inviting user (base64url root key) and device. */
  by: string
  byDevice: PeerId
  entry: string
  status: InviteStatus
  failures: number
  /** Users admitted with it (more than one only across partitions). */
  admitted: string[]
}

export interface EpochState {
  n: number
  /** The entry that started it. */
  entry: string
  /** The lockboxes for it: the epoch entry's own, and those admissions added. */
  boxes: Lockbox[]
  previous?: Uint8Array
}

export interface DroppedEntry {
  entry: string
  kind: string
  reason: string
}

export interface Equivocation {
  deviceId: PeerId
  entries: string[]
}

export interface RoomState {
  /** The room id: the genesis entry's hash (base64url). */
  room: string
  name: string
  founder: string
  /** Current members by seniority, founder first. */
  members: Member[]
  /** Members removed or gone, by root key (base64url). */
  former: string[]
  invites: InviteRecord[]
  epoch: EpochState
  /** Every epoch's lockboxes, by number, for reading older data. */
  epochs: EpochState[]
  /**
   * A new epoch is due: a device outside the room holds the current epoch's secret (or a member device lacks it),
   * e.g. after concurrent removals or a quarantine. An admin appends an `epoch` entry.
   */
  needsRotation: boolean
  equivocations: Equivocation[]
  dropped: DroppedEntry[]
  heads: string[]
  /** Valid entries in order. */
  order: string[]
}

type Bits = Uint32Array

interface UserEvent {
  index: number
  kind: 'admit' | 'out'
}

interface Registry {
  userEvents: Map<string, UserEvent[]>
  roles: Map<string, Array<{ index: number; admin: boolean }>>
  devices: Map<string, { user: string; index: number; device: MemberDevice }>
  admitFlags: Map<string, number>
  admitted: Map<number, string>
  invites: Map<string, InviteRecord & { index: number; admits: number[]; ends: number[] }>
  epochs: Array<{ index: number; epoch: EpochKeys }>
  admitBoxes: Array<{ index: number; epoch: string; box: Lockbox }>
  quarantined: Set<string>
  firstAdmit: Map<string, number>
  removals: Map<string, number[]>
  demotions: Map<string, number[]>
}

const ADMIN_KINDS = new Set(['remove', 'role', 'epoch'])

/** Reduces a room's entries (any order, duplicates ignored, genesis included) to its state. */
export function reduceRoom(entries: Iterable<Entry>, now = Date.now()): RoomState {
  const unique = new Map<string, Entry>()
  for (const entry of entries) unique.set(entry.hash, entry)
  const order = [...unique.values()].sort((a, b) =>
    a.lamport !== b.lamport ? a.lamport - b.lamport : a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0
  )
  const genesis = order[0]
  if (genesis?.data.kind !== 'genesis') throw new TypeError('a room log starts with its genesis entry')
  const index = new Map(order.map((entry, i) => [entry.hash, i]))
  const words = Math.ceil(order.length / 32)
  const ancestors: Bits[] = []
  for (const [i, entry] of order.entries()) {
    const bits = new Uint32Array(words)
    for (const hash of entry.prev) {
      const p = index.get(hash)
      if (p == null || p >= i) throw new TypeError('an entry follows an entry missing from the log')
      const parent = ancestors[p] as Bits
      for (let w = 0; w < words; w++) bits[w] = (bits[w] as number) | (parent[w] as number)
      bits[p >>> 5] = (bits[p >>> 5] as number) | (1 << (p & 31))
    }
    ancestors.push(bits)
  }
  const before = (a: number, b: number): boolean =>
    (((ancestors[b] as Bits)[a >>> 5] as number) & (1 << (a & 31))) !== 0
  const concurrent = (a: number, b: number): boolean => a !== b && !before(a, b) && !before(b, a)

  const excluded = new Map<number, string>()
  for (;;) {
    const { valid, reasons, registry } = pass(order, before, excluded)
    const conflicts = findConflicts(order, valid, registry, concurrent)
    if (conflicts.size === 0) {
      for (const [i, reason] of excluded) reasons.set(i, reason)
      return stateOf({ order, valid, reasons, registry }, before, now)
    }
    // the junior member's conflicting acts go first
    let junior = ''
    let juniority = -1
    for (const user of conflicts.keys()) {
      const seniority = registry.firstAdmit.get(user) ?? Number.MAX_SAFE_INTEGER
      if (seniority > juniority) {
        juniority = seniority
        junior = user
      }
    }
    for (const i of conflicts.get(junior) ?? []) {
      excluded.set(i, 'concurrent with the removal or demotion of its author')
    }
  }
}

function pass(
  order: Entry[],
  before: (a: number, b: number) => boolean,
  excluded: Map<number, string>
): { valid: Set<number>; reasons: Map<number, string>; registry: Registry } {
  const registry: Registry = {
    userEvents: new Map(),
    roles: new Map(),
    devices: new Map(),
    admitFlags: new Map(),
    admitted: new Map(),
    invites: new Map(),
    epochs: [],
    admitBoxes: [],
    quarantined: new Set(),
    firstAdmit: new Map(),
    removals: new Map(),
    demotions: new Map()
  }
  const valid = new Set<number>()
  const reasons = new Map<number, string>()
  const genesis = order[0] as Entry
  const founder = genesis.userKey
  const room = genesis.hash

  const memberAt = (user: string, at: number): boolean => {
    let last: UserEvent | undefined
    for (const event of registry.userEvents.get(user) ?? []) {
      if ((event.index === at || before(event.index, at)) && (last == null || event.index > last.index))
        last = event
    }
    return last?.kind === 'admit'
  }
  const adminAt = (user: string, at: number): boolean => {
    if (user === founder) return memberAt(user, at)
    let last: { index: number; admin: boolean } | undefined
    for (const role of registry.roles.get(user) ?? []) {
      if (before(role.index, at) && (last == null || role.index > last.index)) last = role
    }
    return last?.admin === true && memberAt(user, at)
  }
  const epochAt = (at: number): number =>
    registry.epochs.reduce((max, e) => (before(e.index, at) ? Math.max(max, e.epoch.n) : max), 0)
  const addEvent = <T>(map: Map<string, T[]>, key: string, value: T): void => {
    const list = map.get(key)
    if (list == null) map.set(key, [value])
    else list.push(value)
  }

  for (const [i, entry] of order.entries()) {
    const skip = excluded.get(i)
    if (skip != null) continue
    const reason = check(entry, i)
    if (reason == null) valid.add(i)
    else reasons.set(i, reason)
  }
  return { valid, reasons, registry }

  function check(entry: Entry, i: number): string | undefined {
    const { data } = entry
    if (i === 0) {
      if (data.kind !== 'genesis') return 'the first entry is not a genesis'
      let enc: Uint8Array
      try {
        const cert = readEncryptionKeyCertificate(statementFromBytes(data.enc))
        if (!equals(cert.device, entry.device)) return 'the founder X25519 key is certified by another device'
        enc = cert.key
      } catch {
        return 'the founder X25519 key certificate does not verify'
      }
      if (data.epoch.n !== 1) return 'the genesis starts epoch 1'
      addEvent(registry.userEvents, founder, { index: 0, kind: 'admit' })
      registry.firstAdmit.set(founder, 0)
      registry.devices.set(b64(entry.device), {
        user: founder,
        index: 0,
        device: { deviceId: entry.deviceId, device: entry.device, name: entry.deviceName, enc }
      })
      registry.epochs.push({ index: 0, epoch: data.epoch })
      return undefined
    }
    if (entry.room !== room) return 'the entry is for another room'
    if (data.kind === 'genesis') return 'a room has one genesis'
    const author = entry.userKey
    const device = registry.devices.get(b64(entry.device))
    if (device == null || device.user !== author || !before(device.index, i)) {
      return 'the signing device was not admitted to the room before this entry'
    }
    if (!memberAt(author, i)) return 'the author is not a member at this point'
    if (ADMIN_KINDS.has(data.kind) && !adminAt(author, i)) return 'only an admin may do this'
    switch (data.kind) {
      case 'invite': {
        const flags = registry.admitFlags.get(author) ?? 0
        if (!adminAt(author, i) && (flags & InviteFlags.MayInvite) === 0) return 'the author may not invite'
        const idKey = b64(data.id)
        if (registry.invites.has(idKey)) return 'an invite with this id exists'
        registry.invites.set(idKey, {
          id: data.id,
          idKey,
          key: data.key,
          expiresAt: data.expiresAt,
          flags: data.flags,
          by: author,
          byDevice: entry.deviceId,
          entry: entry.hash,
          status: 'open',
          failures: 0,
          admitted: [],
          index: i,
          admits: [],
          ends: []
        })
        return undefined
      }
      case 'burn':
      case 'revoke-invite': {
        const invite = registry.invites.get(b64(data.id))
        if (invite == null || !before(invite.index, i)) return 'no such invite before this entry'
        if (invite.by !== author && !adminAt(author, i))
          return 'only the inviter or an admin may end an invite'
        invite.ends.push(i)
        if (data.kind === 'burn') {
          invite.failures = Math.max(invite.failures, data.failures)
          if (invite.status !== 'revoked') invite.status = 'burned'
        } else if (invite.status !== 'burned') invite.status = 'revoked'
        return undefined
      }
      case 'admit': {
        const invite = registry.invites.get(b64(data.id))
        if (invite == null || !before(invite.index, i)) return 'no such invite before this entry'
        if (invite.by !== author) return 'only the inviting member may admit with an invite'
        if (invite.ends.some((end) => before(end, i))) return 'the invite was burned or revoked before'
        if (entry.at > invite.expiresAt) return 'the invite had expired'
        if (invite.admits.some((admit) => before(admit, i))) return 'the invite was already used'
        let admitted
        try {
          admitted = checkAdmission(data, {
            room,
            invite: data.id,
            inviteKey: invite.key,
            inviter: entry.device
          })
        } catch (err: unknown) {
          return (err as Error).message
        }
        const userKey = b64(admitted.user)
        const deviceKey = b64(admitted.device)
        const known = registry.devices.get(deviceKey)
        if (known != null && known.user !== userKey) return 'the device belongs to another user'
        if (known != null && memberAt(userKey, i)) return 'the device is already a member'
        if (invite.admits.length > 0) {
          // a second admission on a single-use invite, in another partition: both are quarantined
          registry.quarantined.add(userKey)
          for (const other of invite.admitted) registry.quarantined.add(other)
        }
        invite.admits.push(i)
        invite.admitted.push(userKey)
        invite.status = 'used'
        if (!memberAt(userKey, i)) addEvent(registry.userEvents, userKey, { index: i, kind: 'admit' })
        if (!registry.firstAdmit.has(userKey)) registry.firstAdmit.set(userKey, i)
        registry.admitFlags.set(userKey, invite.flags)
        registry.admitted.set(i, userKey)
        registry.devices.set(deviceKey, {
          user: userKey,
          index: i,
          device: {
            deviceId: peerIdFromPublicKey(publicKeyFromRaw(admitted.device)),
            device: admitted.device,
            name: admitted.deviceName,
            enc: admitted.enc
          }
        })
        registry.admitBoxes.push({ index: i, epoch: data.epoch, box: data.box })
        return undefined
      }
      case 'remove': {
        const target = b64(data.user)
        if (target === author) return 'members leave rather than remove themselves'
        if (!memberAt(target, i)) return 'the removed user is not a member at this point'
        if (data.epoch.n !== epochAt(i) + 1) return 'a removal starts the next epoch'
        addEvent(registry.userEvents, target, { index: i, kind: 'out' })
        addEvent(registry.removals, target, i)
        registry.epochs.push({ index: i, epoch: data.epoch })
        return undefined
      }
      case 'leave':
        addEvent(registry.userEvents, author, { index: i, kind: 'out' })
        addEvent(registry.removals, author, i)
        return undefined
      case 'role': {
        const target = b64(data.user)
        if (target === founder) return "the founder's role does not change"
        if (!memberAt(target, i)) return 'the user is not a member at this point'
        addEvent(registry.roles, target, { index: i, admin: data.admin })
        if (!data.admin) addEvent(registry.demotions, target, i)
        return undefined
      }
      case 'epoch':
        if (data.epoch.n !== epochAt(i) + 1) return 'an epoch entry starts the next epoch'
        registry.epochs.push({ index: i, epoch: data.epoch })
        return undefined
    }
  }
}

/** Per user, the valid entries that are concurrent with a removal (or, for admin acts, a demotion) of that user. */
function findConflicts(
  order: Entry[],
  valid: Set<number>,
  registry: Registry,
  concurrent: (a: number, b: number) => boolean
): Map<string, number[]> {
  const conflicts = new Map<string, number[]>()
  const add = (user: string, i: number): void => {
    const list = conflicts.get(user)
    if (list == null) conflicts.set(user, [i])
    else if (!list.includes(i)) list.push(i)
  }
  for (const i of valid) {
    const entry = order[i] as Entry
    const { data } = entry
    const about = registry.admitted.get(i)
    for (const user of new Set([entry.userKey, ...(about != null ? [about] : [])])) {
      for (const removal of registry.removals.get(user) ?? []) {
        if (valid.has(removal) && concurrent(i, removal)) add(user, i)
      }
    }
    if (ADMIN_KINDS.has(data.kind)) {
      for (const demotion of registry.demotions.get(entry.userKey) ?? []) {
        if (valid.has(demotion) && concurrent(i, demotion)) add(entry.userKey, i)
      }
    }
  }
  return conflicts
}

interface Outcome {
  order: Entry[]
  valid: Set<number>
  reasons: Map<number, string>
  registry: Registry
}

function stateOf(
  { order, valid, reasons, registry }: Outcome,
  before: (a: number, b: number) => boolean,
  now: number
): RoomState {
  const genesis = order[0] as Entry
  const members: Member[] = []
  const former: string[] = []
  const isMember = (user: string): boolean => {
    const events = registry.userEvents.get(user) ?? []
    return events.length > 0 && (events[events.length - 1] as UserEvent).kind === 'admit'
  }
  const adminNow = (user: string): boolean => {
    if (user === genesis.userKey) return true
    const roles = registry.roles.get(user) ?? []
    return roles.length > 0 && (roles[roles.length - 1] as { admin: boolean }).admin
  }
  const seniority = [...registry.firstAdmit.entries()].sort((a, b) => a[1] - b[1])
  for (const [userKey] of seniority) {
    if (!isMember(userKey)) {
      former.push(userKey)
      continue
    }
    const devices = [...registry.devices.values()]
      .filter((d) => d.user === userKey)
      .sort((a, b) => a.index - b.index)
    const events = registry.userEvents.get(userKey) as UserEvent[]
    const since = (events[events.length - 1] as UserEvent).index
    const sinceEntry = order[since] as Entry
    const admin = adminNow(userKey)
    const invite =
      sinceEntry.data.kind === 'admit' ? registry.invites.get(b64(sinceEntry.data.id)) : undefined
    const user = (devices[0] as { device: MemberDevice }).device
    members.push({
      user: since === 0 ? genesis.user : userOf(sinceEntry),
      userKey,
      userId: userIdFromRoot(since === 0 ? genesis.user : userOf(sinceEntry)),
      name: user.name,
      founder: since === 0,
      admin,
      mayInvite: admin || ((invite?.flags ?? 0) & InviteFlags.MayInvite) !== 0,
      since: sinceEntry.hash,
      ...(since !== 0 ? { invitedBy: sinceEntry.userKey } : {}),
      quarantined: registry.quarantined.has(userKey),
      devices: devices.map((d) => d.device)
    })
  }
  // epochs: the highest number wins, the lowest hash among concurrent ones with that number
  const byNumber = new Map<number, { index: number; epoch: EpochKeys }>()
  for (const candidate of registry.epochs) {
    const held = byNumber.get(candidate.epoch.n)
    const hash = (order[candidate.index] as Entry).hash
    if (held == null || hash < (order[held.index] as Entry).hash) byNumber.set(candidate.epoch.n, candidate)
  }
  const epochs = [...byNumber.values()]
    .sort((a, b) => a.epoch.n - b.epoch.n)
    .map(({ index, epoch }): EpochState => {
      const entry = (order[index] as Entry).hash
      const extra = registry.admitBoxes.filter((a) => a.epoch === entry).map((a) => a.box)
      return {
        n: epoch.n,
        entry,
        boxes: [...epoch.boxes, ...extra],
        ...(epoch.previous != null ? { previous: epoch.previous } : {})
      }
    })
  const epoch = epochs[epochs.length - 1] as EpochState
  const holders = new Set(epoch.boxes.map((box) => b64(box.device)))
  const entitled = new Set(
    members.filter((m) => !m.quarantined).flatMap((m) => m.devices.map((d) => b64(d.device)))
  )
  const needsRotation =
    [...holders].some((d) => !entitled.has(d)) || [...entitled].some((d) => !holders.has(d))

  const invites = [...registry.invites.values()].map(
    ({ index: _index, admits: _admits, ends: _ends, ...invite }): InviteRecord => ({
      ...invite,
      status: invite.status === 'open' && now > invite.expiresAt ? 'expired' : invite.status
    })
  )
  const equivocations: Equivocation[] = []
  const byDevice = new Map<string, number[]>()
  for (const i of [...valid].sort((a, b) => a - b)) {
    const key = b64((order[i] as Entry).device)
    const list = byDevice.get(key)
    if (list == null) byDevice.set(key, [i])
    else list.push(i)
  }
  for (const list of byDevice.values()) {
    for (let k = 1; k < list.length; k++) {
      if (!before(list[k - 1] as number, list[k] as number)) {
        equivocations.push({
          deviceId: (order[list[0] as number] as Entry).deviceId,
          entries: list.map((i) => (order[i] as Entry).hash)
        })
        break
      }
    }
  }
  const validOrder = [...valid].sort((a, b) => a - b)
  const followed = new Set(order.flatMap((entry) => entry.prev))
  return {
    room: genesis.hash,
    name: genesis.data.kind === 'genesis' ? genesis.data.name : '',
    founder: genesis.userKey,
    members,
    former,
    invites,
    epoch,
    epochs,
    needsRotation,
    equivocations,
    dropped: [...reasons.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([i, reason]) => ({
        entry: (order[i] as Entry).hash,
        kind: (order[i] as Entry).data.kind,
        reason
      })),
    heads: order.filter((entry) => !followed.has(entry.hash)).map((entry) => entry.hash),
    order: validOrder.map((i) => (order[i] as Entry).hash)
  }
}

/** The user an admission admitted (its claim was checked by the pass). */
function userOf(admit: Entry): Uint8Array {
  return admit.data.kind === 'admit' ? readClaim(admit.data.claim).user : admit.user
}
