/**
 * Rooms on a libp2p peer: the invite protocol (`/kith/trust/invite/1.0.0`), the room protocol
 * (`/kith/trust/room/1.0.0`: log sync and neighbour attestations, members only), connections kept to every other
 * member device, a gater bound to the rooms' membership, and storage of the replicas.
 */
import { channelFromStream, decode, encode, read } from '@kith/identity'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { sha256 } from '@noble/hashes/sha2.js'
import { equals } from 'uint8arrays/equals'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { TypedEventEmitter } from 'main-event'
import {
  admittedBy,
  answerInvite,
  DEFAULT_INVITE_TIMEOUT_MS,
  INVITE_PROTOCOL,
  MAX_WELCOME_BYTES,
  redeemInvite
} from './admission.ts'
import { b64 } from './entries.ts'
import { InviteError, RoomError } from './errors.ts'
import { readInviteLink } from './invite.ts'
import { Room } from './room.ts'
import { RoomSessions, serveRoomSession } from './room-sessions.ts'
import { ownAttestation, readAttestationAsync, roomTopology } from './topology.ts'
import type { RedeemOptions } from './admission.ts'
import type { RoomChannel } from './room-sessions.ts'
import type { RoomGater } from './gater.ts'
import type { Invite } from './invite.ts'
import type { CreatedInvite, InviteOptions } from './room.ts'
import type { Attestation, Topology, TopologyOptions } from './topology.ts'
import type { ByteStore, Identity } from '@kith/identity'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export const ROOM_PROTOCOL = '/kith/trust/room/1.0.0'
/** One room-protocol message: the log's hashes, or a batch of entries. */
export const MAX_ROOM_MESSAGE_BYTES = MAX_WELCOME_BYTES
export const DEFAULT_SYNC_TIMEOUT_MS = 10_000
export const DEFAULT_ATTEST_INTERVAL_MS = 10_000
export const DEFAULT_MESH_DEGREE = 4
/** A room of up to 8 devices is a full mesh: every edit goes straight from its author to everyone, unsigned. */
export const DEFAULT_FULL_MESH_UP_TO = 7
const MAX_STORED_BYTES = 64 * 1024 * 1024
const MAX_CHECKED_ATTESTATIONS = 16_384

/**
 * Failures of an invite exchange after which the inviter may hold this device as a member all the same: the stream
 * broke (the welcome may have been lost on the way), or a retry was refused because the first attempt used the
 * invite or admitted the device. `Rooms.join` then asks the inviter for the room log as a member would.
 */
const WELCOME_MAY_BE_LOST: ReadonlySet<string> = new Set(['PROTOCOL', 'INVITE_USED'])
/** Tries at fetching the room log after a lost welcome, a connection that broke on the way counting as one. */
const FETCH_ADMISSION_ATTEMPTS = 3

/**
 * How long after a direct connection to a member device closes this device attests its neighbours again and sends
 * that to its connected members (several closes at once make one attestation).
 */
const REATTEST_AFTER_CLOSE_MS = 250

/** How long an inviter's refusal gets to reach the newcomer before the stream is aborted. */
const REFUSAL_CLOSE_MS = 2_000

/** The first wait before the inviter is dialled again; it doubles up to `REACH_RETRY_MAX_MS`. */
const REACH_RETRY_MIN_MS = 250
const REACH_RETRY_MAX_MS = 2_000

export interface JoinOptions extends RedeemOptions {
  signal?: AbortSignal
  /**
   * The inviting device could not be reached (`error` says why; `attempt` counts from 1); it is dialled again shortly,
   * until `inviteTimeoutMs` runs out. Its device may be offline for a moment, or reconnecting to its relay.
   */
  onRetry?: (attempt: number, error: Error) => void
}

export interface RoomsInit {
  peer: Libp2p
  identity: Identity
  /** Where the replicas and held invites are kept (they include invite secrets). @default memory only */
  store?: ByteStore
  /** The gater given to `createKithPeer`; bound to the rooms' membership on start. */
  gater?: RoomGater
  /** Relay addresses to put in invite links: the peer's own. @default [] */
  relays?: () => string[]
  /** How often each device attests its neighbours and syncs with every connected member. @default 10_000 */
  attestIntervalMs?: number
  /** @default 30_000 */
  inviteTimeoutMs?: number
  /**
   * The partial mesh, past `fullMeshUpTo`: each device dials `⌊meshDegree / 2⌋` others on a ring ordered by hash
   * (its successor and chords spanning about n^(k/dials − 1) of the ring), so each keeps about `meshDegree` links
   * (at most `meshDegree` + 2) and any two are about √n hops apart (two dials). @default 4
   */
  meshDegree?: number
  /**
   * With up to this many other member devices every device dials every other (a full mesh): an edit then goes from
   * its author to everyone in one hop, unsigned (`@kith/sync`). Never below `meshDegree`. @default 7 (8 devices)
   */
  fullMeshUpTo?: number
  /**
   * A connection to a member device that is no mesh neighbour in any shared room is closed once it is this old and
   * carries nothing but pings, one connection a second. @default MESH_PRUNE_AFTER_MS (30 s)
   */
  meshPruneAfterMs?: number
  /**
   * Member devices relay for each other when no relay is reachable: pass `peer.services.relays` (`@kith/peer`, with
   * `serveRelay` on and this gater). Every device then holds a reservation on the member devices it is linked to
   * while its relays are down, and redials a mesh neighbour it lost through a member linked to both.
   * @default no fallback: a link that drops while every relay is down stays down until a relay is back
   */
  fallbackRelays?: FallbackRelays
}

/** What `Rooms` needs of `@kith/peer`'s `RelayManager` to fall back on member devices as relays. */
export interface FallbackRelays {
  /** The peers to hold a reservation on while no configured relay holds one. */
  setFallbackRelays(peers: PeerId[]): void
}

/** A relayed circuit this young may still carry a peer's WebRTC negotiation: no dial of our own over it yet. */
const SIGNALING_GRACE_MS = 20_000
/**
 * When two member devices each dial the other by the mesh rule (every pair in a full mesh), the lower peer id dials
 * and the higher waits this long for it before dialing too: two dials at once made two WebRTC connections, one of
 * them closed as a duplicate, at twice the cost of one.
 */
const MUTUAL_DIAL_GRACE_MS = 5_000
/** How long a member device whose dial failed is skipped over by the mesh. */
const UNREACHABLE_MS = 30_000
/**
 * A connection to a member device that is no mesh neighbour (in any room the two share) is closed once it is this
 * old and carries nothing but liveness: an inviter is otherwise left linked to everyone it let in.
 */
export const MESH_PRUNE_AFTER_MS = 30_000
/** Idle connections are closed one per this long. */
const PRUNE_SPACING_MS = 1_000
/**
 * Streams that do not keep a connection in use: liveness (its stream and pings), identify, and the room protocol's
 * kept streams (its exchanges are periodic; one cut short runs again).
 */
const BACKGROUND_PROTOCOL = /\/(ping|liveness|id|id\/push|trust\/room)\/\d+\.\d+\.\d+$/

/** The room's devices on a ring ordered by SHA-256(room ‖ device): the same ring on every device. */
interface MeshRing {
  devices: string[]
  /** Each device's place on the ring, in [0, 1): the first 52 bits of its hash. */
  places: number[]
  /** Each device's offset in [0, 1) for when its chords' spans step (`chordSpan`): the next 52 bits. */
  offsets: number[]
}

function meshRing(room: string, devices: string[]): MeshRing {
  const placed = devices.map((device) => {
    const hash = toString(sha256(fromString(`${room}\n${device}`)), 'base16')
    const fraction = (from: number): number => Number.parseInt(hash.slice(from, from + 13), 16) / 2 ** 52
    return { device, hash, place: fraction(0), offset: fraction(13) }
  })
  placed.sort((a, b) => (a.hash < b.hash ? -1 : 1))
  return {
    devices: placed.map((p) => p.device),
    places: placed.map((p) => p.place),
    offsets: placed.map((p) => p.offset)
  }
}

/**
 * The ring's share a device's chord of level `k` spans: about n^(k/dials - 1) (1/√n for two dials), as a power of two
 * that steps when the room grows past a size set by the device's `offset`. A device's chord moves only when its own
 * span steps (once per fourfold growth for two dials), and the devices' steps are spread over the sizes between, so
 * no single join moves every chord at once: about 0.7 a join for two dials.
 */
function chordSpan(n: number, k: number, dials: number, offset: number): number {
  return 2 ** -Math.floor(Math.log2(n) * (1 - k / dials) + offset)
}

/** At most this many chords of one level land on a device: its links stay within about `degree` + 2. */
const CHORDS_PER_DEVICE = 3

/**
 * Whom every device dials, no device skipped: its successor on the ring, and for each chord level the first device
 * at or past its own place plus the level's span that is not itself, not already dialled by it, and not yet the end
 * of `CHORDS_PER_DEVICE` chords of that level (chords are handed out in the order of the places they aim at, so all
 * devices agree). Chords are placed by hash rather than by count: a device that joins or leaves moves only the chords
 * aimed next to it (about one per level) instead of the chords of every device within reach of it, and every join
 * made each of those a new WebRTC connection.
 */
function ringPlan(ring: MeshRing, degree: number): Map<string, string[]> {
  const { devices, places, offsets } = ring
  const n = devices.length
  const dials = Math.max(1, Math.floor(degree / 2))
  const targets = new Map(devices.map((d, i) => [d, [devices[(i + 1) % n] as string]]))
  for (let k = 1; k < dials; k++) {
    const aims = devices.map((device, i) => {
      const span = chordSpan(n, k, dials, offsets[i] as number)
      return { device, aim: ((places[i] as number) + span) % 1 }
    })
    aims.sort((x, y) => x.aim - y.aim)
    const load = new Map<string, number>()
    for (const { device, aim } of aims) {
      const mine = targets.get(device) as string[]
      let index = firstAtOrPast(places, aim)
      for (let tries = 0; tries < n; tries++, index = (index + 1) % n) {
        const target = devices[index] as string
        if (target === device || mine.includes(target) || (load.get(target) ?? 0) >= CHORDS_PER_DEVICE)
          continue
        load.set(target, (load.get(target) ?? 0) + 1)
        mine.push(target)
        break
      }
    }
  }
  return targets
}

/** The index of the first place at or past `place` on the ring (wrapping to 0). */
function firstAtOrPast(places: number[], place: number): number {
  let low = 0
  let high = places.length
  while (low < high) {
    const middle = (low + high) >> 1
    if ((places[middle] as number) < place) low = middle + 1
    else high = middle
  }
  return low % places.length
}

/**
 * Whom `me` dials by `plan`, a device it skips as unreachable replaced by the next one round the ring that is not
 * (only whom `me` dials changes: the others' plans stay as they are).
 */
function ringTargets(plan: MeshPlan, me: string, unreachable: (device: string) => boolean): string[] {
  const { devices } = plan.ring
  const planned = plan.targets.get(me) ?? []
  if (!planned.some(unreachable)) return planned
  const targets = new Set<string>()
  for (const target of planned) {
    let index = devices.indexOf(target)
    for (let tries = 0; tries < devices.length; tries++, index = (index + 1) % devices.length) {
      const instead = devices[index] as string
      if (instead === me || targets.has(instead) || unreachable(instead)) continue
      targets.add(instead)
      break
    }
  }
  return [...targets]
}

export interface MeshOptions {
  /** Links per device in a partial mesh (`RoomsInit.meshDegree`). */
  degree: number
  /**
   * Up to this many other devices every device links to every other (`RoomsInit.fullMeshUpTo`). @default `degree`
   */
  fullMesh?: number
  /** Devices to skip when choosing whom to dial. @default none */
  unreachable?: (device: string) => boolean
}

/**
 * The member devices `me` dials in a room of `devices` (including `me`): all of them up to `degree` others, else
 * a successor and chords on a ring ordered by SHA-256(room ‖ device), skipping devices that were just unreachable.
 */
export function meshTargets(room: string, me: string, devices: string[], options: MeshOptions): string[] {
  const others = devices.filter((d) => d !== me)
  const full = fullMeshOf(options)
  if (others.length <= full) return others
  const plan = meshPlan(room, [...others, me], options.degree, full)
  if (options.unreachable == null) return plan.targets.get(me) ?? []
  return ringTargets(plan, me, options.unreachable)
}

function fullMeshOf(options: Pick<MeshOptions, 'degree' | 'fullMesh'>): number {
  return Math.max(options.degree, options.fullMesh ?? options.degree)
}

/**
 * The devices `me` keeps links with: those it dials and those that dial it (by the same rule, as each of them
 * computes it), so two devices agree on whether they are neighbours. A device skipped as unreachable by `me`
 * only changes whom `me` dials.
 */
export function meshNeighbours(room: string, me: string, devices: string[], options: MeshOptions): string[] {
  const others = devices.filter((d) => d !== me)
  const full = fullMeshOf(options)
  if (others.length <= full) return others
  const plan = meshPlan(room, [...others, me], options.degree, full)
  const neighbours = new Set(meshTargets(room, me, devices, options))
  for (const other of plan.graph.get(me) ?? []) {
    if (plan.targets.get(other)?.includes(me) === true) neighbours.add(other)
  }
  return [...neighbours]
}

interface MeshPlan {
  ring: MeshRing
  /** Whom each device dials, no device skipped. */
  targets: Map<string, string[]>
  /** Each device's neighbours: whom it dials and who dials it. */
  graph: Map<string, Set<string>>
}

/** The last plan computed, by room: rebuilt only when the devices or the degree change. */
const plans = new Map<string, { key: string; plan: MeshPlan }>()
const PLANS_KEPT = 64

function meshPlan(room: string, devices: string[], degree: number, full: number): MeshPlan {
  const unique = [...new Set(devices)]
  const key = `${degree} ${full} ${[...unique].sort().join(' ')}`
  const cached = plans.get(room)
  if (cached?.key === key) return cached.plan
  const ring = meshRing(room, unique)
  const all = ring.devices
  const targets =
    all.length - 1 <= full ? new Map(all.map((d) => [d, all.filter((o) => o !== d)])) : ringPlan(ring, degree)
  const plan: MeshPlan = { ring, targets, graph: new Map(all.map((d) => [d, new Set<string>()])) }
  for (const [device, mine] of targets) {
    for (const target of mine) {
      plan.graph.get(device)?.add(target)
      plan.graph.get(target)?.add(device)
    }
  }
  if (plans.size >= PLANS_KEPT && !plans.has(room)) plans.clear()
  plans.set(room, { key, plan })
  return plan
}

/**
 * Every device's neighbours in a room of `devices` by the rule, with no device skipped (`meshNeighbours` of each):
 * the graph all the devices' dials make, computed in one pass over the ring and kept until the devices change.
 */
export function meshGraph(
  room: string,
  devices: string[],
  options: Pick<MeshOptions, 'degree' | 'fullMesh'>
): ReadonlyMap<string, ReadonlySet<string>> {
  return meshPlan(room, devices, options.degree, fullMeshOf(options)).graph
}

export interface RoomsEvents {
  /** A room was created, joined, changed or dropped, or a member's neighbour attestation arrived. */
  change: CustomEvent<Room | undefined>
  /** A room protocol request from a peer that is not a member of the room it named. */
  refused: CustomEvent<{ peer: PeerId; room: string }>
  /**
   * An invite exchange this device answered failed, with the code the newcomer was sent when it could be: a wrong
   * PIN, a burned or used invite (the room's `invite:*` events say more), or `PROTOCOL` for a bad message, a
   * newcomer that went silent past `inviteTimeoutMs` or a connection that closed midway (the message says which).
   */
  'invite:error': CustomEvent<{ peer: PeerId; error: InviteError }>
}

function bytesList(value: unknown, max: number): Uint8Array[] {
  if (!Array.isArray(value) || value.length > max)
    throw new RoomError('INVALID', 'expected a list of byte strings')
  return value.filter((item): item is Uint8Array => item instanceof Uint8Array)
}

/** Whose attestation a checked one is, and when it was made. */
interface HeldAttestation {
  device: string
  at: number
}

/** An attestation marked as held by a peer for an exchange, with what was marked before (see `Rooms.unmark`). */
interface Mark extends HeldAttestation {
  before: number | undefined
}

export class Rooms extends TypedEventEmitter<RoomsEvents> {
  readonly peer: Libp2p
  readonly identity: Identity
  private readonly rooms = new Map<string, Room>()
  private readonly attestations = new Map<string, Map<string, Attestation>>()
  /**
   * The newest attestation of each device that each peer holds, by room and peer: the device's `at`, from what the
   * peer was sent and what it sent here.
   */
  private readonly attestationsHeld = new Map<string, Map<string, number>>()
  /** The log digest each member device (by room) reported in the last sync with it. */
  private readonly digestsHeard = new Map<string, Uint8Array>()
  /**
   * Attestations already checked (by room and hash of their bytes), with the device and time of each good one:
   * every sync carries all of them, most unchanged.
   */
  private readonly checkedAttestations = new Map<string, HeldAttestation | undefined>()
  /** Attestations (by room and hash) whose signature check is under way. */
  private readonly checkingAttestations = new Map<string, Promise<HeldAttestation | undefined>>()
  /**
   * The room-protocol streams this device opened, kept for its next exchanges with each peer. A stream opens only on
   * a connection that is up: a sync queued behind another could otherwise dial a member whose connection the mesh had
   * just pruned, and the two would dial each other again (in an idle room of 16 browsers, a new connection every
   * second).
   */
  private readonly sessions = new RoomSessions(async (peer, signal) => {
    // (the room protocol does not run on relayed circuits)
    const connection = this.peer.getConnections(peer).find((c) => c.status === 'open' && c.limits == null)
    if (connection == null) throw new RoomError('UNREACHABLE', 'no direct connection to the peer')
    return connection.newStream(ROOM_PROTOCOL, { signal })
  }, MAX_ROOM_MESSAGE_BYTES)
  private readonly init: RoomsInit
  private timer?: ReturnType<typeof setInterval>
  private pruneTimer?: ReturnType<typeof setTimeout>
  /** Runs `connectMembers` again once a dial left to the other end's lower id is due (`MUTUAL_DIAL_GRACE_MS`). */
  private redialTimer?: ReturnType<typeof setTimeout>
  /** Since when this device has left its dial of each member device to that device's own dial. */
  private readonly dialsLeft = new Map<string, number>()
  private prunedAt = -Infinity
  private saving?: Promise<void>
  private readonly rotating = new Set<string>()
  private readonly unreachable = new Map<string, number>()
  private meshPaused = false
  private started = false
  private reattestTimer?: ReturnType<typeof setTimeout>
  /**
   * A lost link to a mesh neighbour is attested at once, not at the next tick: until the members linked to this
   * device hear of it, `@kith/sync` takes both ends' last attestations as saying the two still reach each other, and
   * no one passes this device the other's edits (they came only by anti-entropy, seconds later, in rooms of 48).
   * The link is dialed again at the same moment (by the rule of `connectMembers`): a WebRTC dial whose offerer gave
   * up after the answerer took the connection leaves the answerer a connection that closes a moment later, and
   * nothing else dialed that neighbour again before the next tick.
   */
  private readonly onClose = (event: CustomEvent<Connection>): void => {
    const connection = event.detail
    if (connection.limits != null) return
    const peer = connection.remotePeer
    // another direct connection to it stays (a duplicate closed): nothing changed
    if (this.peer.getConnections(peer).some((c) => c.limits == null && c.status === 'open')) return
    // only a mesh neighbour's link is one that sync's broadcast trees count on
    const neighbour = (room: Room): boolean =>
      room.me != null && this.meshNeighboursOf(room).some((device) => device.equals(peer))
    if (![...this.rooms.values()].some(neighbour)) return
    this.reattestTimer ??= setTimeout(() => {
      this.reattestTimer = undefined
      if (!this.started) return
      for (const room of this.rooms.values()) {
        if (room.me == null) continue
        this.attest(room)
        for (const member of this.connectedMembers(room)) void this.syncWith(room, member)
        this.connectMembers(room)
      }
    }, REATTEST_AFTER_CLOSE_MS)
  }

  private readonly onConnect = (event: CustomEvent<PeerId>): void => {
    // a peer that reconnects may have restarted without what it was sent: it gets every attestation again
    const peer = event.detail.toString()
    for (const key of this.attestationsHeld.keys())
      if (key.endsWith(`\n${peer}`)) this.attestationsHeld.delete(key)
    for (const key of this.digestsHeard.keys()) if (key.endsWith(`\n${peer}`)) this.digestsHeard.delete(key)
    for (const room of this.rooms.values()) {
      if (room.isMemberDevice(event.detail)) void this.syncWith(room, event.detail)
    }
  }

  constructor(init: RoomsInit) {
    super()
    this.init = init
    this.peer = init.peer
    this.identity = init.identity
    if (!init.peer.peerId.equals(init.identity.deviceId)) {
      throw new RoomError('INVALID', 'rooms run on the peer whose key is the device key')
    }
  }

  /** Loads stored rooms, registers the protocols, binds the gater and connects to the other members. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const stored = await this.init.store?.get()
    if (stored != null) {
      try {
        const map = read.map(decode(stored, MAX_STORED_BYTES), 'stored rooms')
        for (const bytes of bytesList(map.rooms, 1024)) {
          try {
            this.track(Room.fromBytes(this.identity, bytes))
          } catch {
            // one damaged room does not keep the others from loading
          }
        }
      } catch {
        // nothing usable stored
      }
    }
    this.init.gater?.bind({
      isMember: (peer) => [...this.rooms.values()].some((room) => room.isMemberDevice(peer)),
      hasOpenInvites: () => [...this.rooms.values()].some((room) => room.hasHeldInvites())
    })
    await this.peer.handle(INVITE_PROTOCOL, (stream, connection) => this.answer(stream, connection), {
      maxInboundStreams: 8
    })
    await this.peer.handle(ROOM_PROTOCOL, (stream, connection) => this.respond(stream, connection), {
      maxInboundStreams: 32
    })
    this.peer.addEventListener('peer:connect', this.onConnect)
    this.peer.addEventListener('connection:close', this.onClose)
    const interval = this.init.attestIntervalMs ?? DEFAULT_ATTEST_INTERVAL_MS
    this.timer = setInterval(() => {
      this.tick()
    }, interval)
    this.tick()
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.timer)
    clearTimeout(this.pruneTimer)
    this.pruneTimer = undefined
    clearTimeout(this.redialTimer)
    this.redialTimer = undefined
    this.dialsLeft.clear()
    this.peer.removeEventListener('peer:connect', this.onConnect)
    this.peer.removeEventListener('connection:close', this.onClose)
    clearTimeout(this.reattestTimer)
    this.reattestTimer = undefined
    this.init.gater?.bind(undefined)
    await this.peer.unhandle(INVITE_PROTOCOL)
    await this.peer.unhandle(ROOM_PROTOCOL)
    this.sessions.closeAll()
    await this.save()
  }

  list(): Room[] {
    return [...this.rooms.values()]
  }

  get(id: string): Room | undefined {
    return this.rooms.get(id)
  }

  /** A new room with this user as founder and admin. */
  async create(name: string): Promise<Room> {
    const room = await Room.create(this.identity, name)
    this.track(room)
    this.changed(room)
    return room
  }

  /** An invite to `room` through this peer's relays. */
  invite(room: Room, options: Partial<InviteOptions> & { base: string }): CreatedInvite {
    return room.createInvite({ relays: this.init.relays?.() ?? [], ...options })
  }

  /**
   * Redeems an invite link with its PIN: dials the inviter named in the link (through the link's relays, retrying
   * while it cannot be reached, within `inviteTimeoutMs`), runs the exchange, and joins the room. Rejects with
   * `InviteError` (see its codes).
   */
  async join(link: string | Invite, pin: string, options: JoinOptions = {}): Promise<Room> {
    const invite = typeof link === 'string' ? readInviteLink(link) : link
    const signal = AbortSignal.any([
      AbortSignal.timeout(this.init.inviteTimeoutMs ?? DEFAULT_INVITE_TIMEOUT_MS),
      ...(options.signal != null ? [options.signal] : [])
    ])
    const target =
      invite.relays.length > 0
        ? invite.relays.map((relay) =>
            multiaddr(`${relay}/p2p-circuit/webrtc/p2p/${invite.inviter.toString()}`)
          )
        : invite.inviter
    const stream = await this.reachInviter(invite, target, signal, options)
    let room: Room
    try {
      room = await redeemInvite(
        channelFromStream(stream, signal, MAX_WELCOME_BYTES + 1024),
        { invite, pin, identity: this.identity },
        options
      )
      await stream.close().catch(() => undefined)
    } catch (err: unknown) {
      stream.abort(err as Error)
      const error =
        err instanceof InviteError ? err : new InviteError('PROTOCOL', (err as Error).message, { cause: err })
      if (!WELCOME_MAY_BE_LOST.has(error.code)) throw error
      // the inviter may have admitted this device and the welcome been lost on the way (the connection dropped
      // with it in flight; a retry is then refused, the invite used and the device a member): ask for the log as
      // the member this device may be
      const fetched = await this.fetchAdmission(invite, target, signal).catch(() => undefined)
      if (fetched == null) throw error
      room = fetched
    }
    const existing = this.rooms.get(room.id)
    if (existing != null) existing.add(room.log())
    else this.track(room)
    const joined = this.rooms.get(room.id) as Room
    this.changed(joined)
    this.connectMembers(joined)
    return joined
  }

  /**
   * The room of `invite` from its inviter over the room protocol, if the inviter holds this device as a member: one
   * sync exchange listing no entries, so the reply carries the whole log, checked as a welcome is (`admittedBy`).
   * Rejects when the inviter cannot be reached or refuses (this device is no member).
   */
  private async fetchAdmission(
    invite: Invite,
    target: PeerId | Multiaddr[],
    signal: AbortSignal
  ): Promise<Room> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchAdmissionOnce(invite, target, signal)
      } catch (err: unknown) {
        // a refusal, or a log that does not admit this device, is the answer; a connection that broke is not (the
        // one the exchange ran on may still look open here while it closes)
        if (err instanceof RoomError || err instanceof InviteError || signal.aborted) throw err
        if (attempt >= FETCH_ADMISSION_ATTEMPTS) throw err
        await abortableDelay(REACH_RETRY_MIN_MS * 2 ** (attempt - 1), signal)
      }
    }
  }

  private async fetchAdmissionOnce(
    invite: Invite,
    target: PeerId | Multiaddr[],
    signal: AbortSignal
  ): Promise<Room> {
    const room = b64(invite.room)
    const connection =
      this.peer.getConnections(invite.inviter).find((c) => c.status === 'open' && c.limits == null) ??
      (await this.peer.dial(target, { signal }))
    const stream = await connection.newStream(ROOM_PROTOCOL, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_ROOM_MESSAGE_BYTES })
      await lp.write(encode({ t: 'sync', room, have: [] }), { signal })
      const reply = read.map(
        decode((await lp.read({ signal })).subarray(), MAX_ROOM_MESSAGE_BYTES),
        'sync reply'
      )
      if (reply.t !== 'sync') throw new RoomError('NOT_MEMBER', `the inviter refused: ${String(reply.code)}`)
      const fetched = admittedBy(bytesList(reply.entries ?? [], 4 * 4096), invite, this.identity)
      await lp.write(encode({ t: 'entries', entries: [] }), { signal })
      await stream.close({ signal }).catch(() => undefined)
      return fetched
    } catch (err: unknown) {
      stream.abort(err as Error)
      throw err
    }
  }

  /**
   * Opens the invite protocol to the inviter, again and again until `signal` ends: its device may be offline for a
   * moment, or reconnecting to a relay that just came back (the relay then answers that it holds no reservation).
   */
  private async reachInviter(
    invite: Invite,
    target: PeerId | Multiaddr[],
    signal: AbortSignal,
    options: JoinOptions
  ): Promise<Stream> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.peer
          .dialProtocol(target, INVITE_PROTOCOL, { signal })
          .catch(async (err: unknown) => {
            // the dial lost a race to a connection the inviter's side opened meanwhile (it closes the loser as a
            // duplicate): the exchange runs over that connection
            const open = this.peer.getConnections(invite.inviter).some((c) => c.status === 'open')
            if (!open || signal.aborted) throw err
            return this.peer.dialProtocol(invite.inviter, INVITE_PROTOCOL, { signal })
          })
      } catch (err: unknown) {
        const error = err instanceof Error ? err : new InviteError('PROTOCOL', String(err))
        if (signal.aborted) {
          throw new InviteError(
            'PROTOCOL',
            `could not reach the inviting device (${attempt} ${attempt === 1 ? 'attempt' : 'attempts'}): ${error.message}`,
            { cause: err }
          )
        }
        options.onRetry?.(attempt, error)
        await abortableDelay(Math.min(REACH_RETRY_MAX_MS, REACH_RETRY_MIN_MS * 2 ** (attempt - 1)), signal)
      }
    }
  }

  /** Forgets a room on this device (after leaving it, or being removed). */
  async forget(id: string): Promise<void> {
    this.rooms.delete(id)
    this.attestations.delete(id)
    for (const key of this.attestationsHeld.keys())
      if (key.startsWith(`${id}\n`)) this.attestationsHeld.delete(key)
    for (const key of this.digestsHeard.keys()) if (key.startsWith(`${id}\n`)) this.digestsHeard.delete(key)
    this.changed(undefined)
    await this.save()
  }

  /** The members' latest neighbour attestations for `room`. */
  attested(room: Room): Attestation[] {
    return [...(this.attestations.get(room.id)?.values() ?? [])]
  }

  /** The room's graph and its flags, from the members' attestations. */
  topology(room: Room, options: TopologyOptions = {}): Topology {
    return roomTopology(room.state, this.attested(room), {
      silentAfterMs: 3 * (this.init.attestIntervalMs ?? DEFAULT_ATTEST_INTERVAL_MS),
      ...options
    })
  }

  /**
   * Attests this device's neighbours now, syncs every room with every connected member (a member of lower id whose
   * log matched at the last exchange starts that sync itself), and closes idle connections to member devices that
   * are no mesh neighbour.
   */
  tick(): void {
    for (const room of this.rooms.values()) {
      if (room.me == null) continue
      this.attest(room)
      this.connectMembers(room)
      for (const peer of this.connectedMembers(room)) {
        if (this.syncedByThem(room, peer)) continue
        void this.syncWith(room, peer)
      }
    }
    this.pruneMesh()
    this.updateFallbackRelays()
  }

  /** Every member device of every room may relay for this one (the relay manager uses those it is linked to). */
  private updateFallbackRelays(): void {
    const fallback = this.init.fallbackRelays
    if (fallback == null) return
    const devices = new Map<string, PeerId>()
    for (const room of this.rooms.values()) {
      if (room.me == null) continue
      for (const device of room.otherDevices()) devices.set(device.toString(), device)
    }
    fallback.setFallbackRelays([...devices.values()])
  }

  /** The peer ids of this device's relays (`RoomsInit.relays`). */
  private relayIds(): Set<string | undefined> {
    return new Set((this.init.relays?.() ?? []).map((r) => r.split('/p2p/').pop()))
  }

  /** Whether this device has a direct connection to one of its relays (it can signal through it). */
  private relayReachable(): boolean {
    const relays = this.relayIds()
    return this.peer
      .getConnections()
      .some((c) => c.limits == null && c.status === 'open' && relays.has(c.remotePeer.toString()))
  }

  /**
   * Circuits to `target` through member devices this device is linked to and `target` attests as its neighbours:
   * while the relays are down those hold its fallback reservations.
   */
  private memberPaths(room: Room, target: PeerId): Multiaddr[] {
    if (this.init.fallbackRelays == null) return []
    const near = new Set(this.attestations.get(room.id)?.get(target.toString())?.peers ?? [])
    const seen = new Set<string>()
    const paths: Multiaddr[] = []
    for (const connection of this.peer.getConnections()) {
      const via = connection.remotePeer
      const id = via.toString()
      if (connection.limits != null || !near.has(id) || seen.has(id) || !room.isMemberDevice(via)) continue
      seen.add(id)
      paths.push(multiaddr(`/p2p/${id}/p2p-circuit/webrtc/p2p/${target.toString()}`))
    }
    return paths
  }

  private pruneMesh(): void {
    const members = new Set<string>()
    const neighbours = new Set<string>()
    for (const room of this.rooms.values()) {
      if (room.me == null) continue
      for (const device of room.otherDevices()) members.add(device.toString())
      for (const device of this.meshNeighboursOf(room)) neighbours.add(device.toString())
    }
    const now = Date.now()
    const idle = this.peer.getConnections().filter((connection) => {
      const id = connection.remotePeer.toString()
      if (!members.has(id) || neighbours.has(id) || connection.limits != null) return false
      if (now - connection.timeline.open < (this.init.meshPruneAfterMs ?? MESH_PRUNE_AFTER_MS)) return false
      return connection.streams.every((stream) => BACKGROUND_PROTOCOL.test(stream.protocol ?? ''))
    })
    // one at a time: closing a WebRTC connection holds the page's thread for a while, and an inviter that let a
    // dozen people in closing them all at once held up every edit in flight (p95 at 16 peers twice a quiet room's)
    if (idle.length > 0 && now - this.prunedAt >= PRUNE_SPACING_MS) {
      this.prunedAt = now
      void idle
        .shift()
        ?.close()
        .catch(() => undefined)
    }
    if (idle.length > 0 && this.started && this.pruneTimer == null) {
      this.pruneTimer = setTimeout(() => {
        this.pruneTimer = undefined
        if (this.started) this.pruneMesh()
      }, PRUNE_SPACING_MS)
    }
  }

  private attest(room: Room): void {
    const relays = this.relayIds()
    const peers = this.peer
      .getConnections()
      .filter((c) => c.limits == null && !relays.has(c.remotePeer.toString()))
      .map((c) => c.remotePeer)
    this.keep(room, ownAttestation(this.identity, room.id, peers))
  }

  private keep(room: Room, attestation: Attestation): void {
    let byDevice = this.attestations.get(room.id)
    if (byDevice == null) {
      byDevice = new Map<string, Attestation>()
      this.attestations.set(room.id, byDevice)
    }
    const id = attestation.deviceId.toString()
    if ((byDevice.get(id)?.at ?? -1) >= attestation.at) return
    byDevice.set(id, attestation)
    // the room's graph changed (nothing to store: attestations are not kept across restarts)
    this.safeDispatchEvent('change', { detail: room })
  }

  private connectedMembers(room: Room): PeerId[] {
    return room.otherDevices().filter((peer) => this.peer.getConnections(peer).length > 0)
  }

  /**
   * Stops (or resumes) dialing member devices, and hangs up on them while stopped: for apps that let an idle device
   * drop its links. The room protocol still answers whoever connects.
   */
  pauseMesh(paused: boolean): void {
    this.meshPaused = paused
    if (!paused) {
      for (const room of this.rooms.values()) this.connectMembers(room)
      return
    }
    for (const room of this.rooms.values()) {
      for (const peer of room.otherDevices()) void this.peer.hangUp(peer).catch(() => undefined)
    }
  }

  /** The mesh's degree (see `RoomsInit.meshDegree`). */
  get meshDegree(): number {
    return this.init.meshDegree ?? DEFAULT_MESH_DEGREE
  }

  /** Up to how many other devices the mesh is full (see `RoomsInit.fullMeshUpTo`). */
  get fullMeshUpTo(): number {
    return Math.max(this.meshDegree, this.init.fullMeshUpTo ?? DEFAULT_FULL_MESH_UP_TO)
  }

  /**
   * The member devices this device and they agree to keep links with in `room`: those it dials (`meshOf`) and those
   * whose own rule dials it. Sync links follow these.
   */
  meshNeighboursOf(room: Room): PeerId[] {
    return this.meshBy(meshNeighbours, room)
  }

  /** The member devices this device dials in `room` (see `meshDegree`). */
  meshOf(room: Room): PeerId[] {
    return this.meshBy(meshTargets, room)
  }

  /** `rule` applied to `room`'s other devices, skipping those whose dial failed lately. */
  private meshBy(rule: typeof meshTargets, room: Room): PeerId[] {
    const byId = new Map(room.otherDevices().map((d) => [d.toString(), d]))
    const now = Date.now()
    const chosen = rule(room.id, this.peer.peerId.toString(), [...byId.keys()], {
      degree: this.meshDegree,
      fullMesh: this.fullMeshUpTo,
      unreachable: (d) => now - (this.unreachable.get(d) ?? -Infinity) < UNREACHABLE_MS
    })
    return chosen.map((t) => byId.get(t) as PeerId)
  }

  private connectMembers(room: Room): void {
    if (room.me == null || this.meshPaused) return
    const viaMembers = !this.relayReachable()
    const now = Date.now()
    const me = this.peer.peerId.toString()
    for (const peer of this.meshOf(room)) {
      const id = peer.toString()
      // a direct link is up, or a relayed circuit is young enough that the peer may still be signaling over it; an
      // old circuit (a dial through it that failed) must not keep this device from dialing
      const connections = this.peer.getConnections(peer)
      if (connections.some((c) => c.limits == null || now - c.timeline.open < SIGNALING_GRACE_MS)) {
        this.dialsLeft.delete(id)
        continue
      }
      if (id < me && this.dialsMe(room, id)) {
        const since = this.dialsLeft.get(id) ?? now
        this.dialsLeft.set(id, since)
        if (now - since < MUTUAL_DIAL_GRACE_MS) {
          this.redialAfter(since + MUTUAL_DIAL_GRACE_MS - now)
          continue
        }
      }
      this.dialsLeft.delete(id)
      // with the relays down, a neighbour is reached through a member linked to both (`fallbackRelays`)
      const paths = viaMembers ? this.memberPaths(room, peer) : []
      void this.peer
        .dial(paths.length > 0 ? paths : peer, { signal: AbortSignal.timeout(DEFAULT_SYNC_TIMEOUT_MS) })
        .then(() => this.unreachable.delete(peer.toString()))
        .catch(() => {
          // a dial that lost to the peer's own dial of this device (the duplicate is closed) is no failure
          if (this.peer.getConnections(peer).length === 0) this.unreachable.set(peer.toString(), Date.now())
        })
    }
  }

  /** Whether member device `id`'s own mesh rule dials this device in `room` (nothing skipped). */
  private dialsMe(room: Room, id: string): boolean {
    const devices = [...room.otherDevices().map((d) => d.toString()), this.peer.peerId.toString()]
    const options = { degree: this.meshDegree, fullMesh: this.fullMeshUpTo }
    return meshTargets(room.id, id, devices, options).includes(this.peer.peerId.toString())
  }

  private redialAfter(ms: number): void {
    if (this.redialTimer != null || !this.started) return
    this.redialTimer = setTimeout(() => {
      this.redialTimer = undefined
      for (const room of this.rooms.values()) this.connectMembers(room)
    }, ms)
  }

  private track(room: Room): void {
    const before = { members: new Set(room.otherDevices().map((p) => p.toString())) }
    this.rooms.set(room.id, room)
    room.addEventListener('change', () => {
      this.rotateIfDue(room)
      this.changed(room)
      this.dropFormerMembers(room, before.members)
      const members = new Set(room.otherDevices().map((p) => p.toString()))
      // a member who came or went moves the ring: dial the new neighbours now rather than at the next tick, so the
      // mesh is whole before people edit (at 8 members a tick's wait had a fifth of the mesh links opening mid-edit)
      if (members.size !== before.members.size || [...members].some((m) => !before.members.has(m))) {
        this.connectMembers(room)
        this.updateFallbackRelays()
      }
      before.members = members
      for (const peer of this.connectedMembers(room)) void this.syncWith(room, peer)
    })
  }

  /**
   * After a leave, a quarantine or concurrent removals the current epoch's key is held by a device outside the room
   * (or missing on a member's): the most senior admin rotates. One rotator, so admins do not race; if it is offline,
   * the rotation waits for it.
   */
  private rotateIfDue(room: Room): void {
    const me = room.me
    if (!room.state.needsRotation || me?.admin !== true || this.rotating.has(room.id)) return
    const senior = room.state.members.find((m) => m.admin && !m.quarantined)
    if (senior?.userKey !== me.userKey) return
    this.rotating.add(room.id)
    room
      .rotate('membership changed')
      .catch(() => undefined)
      .finally(() => this.rotating.delete(room.id))
  }

  /**
   * Tells devices that just left the room (one last sync, so they learn it), then closes the connections to them
   * unless the app lets them in otherwise.
   */
  private dropFormerMembers(room: Room, previous: Set<string>): void {
    const now = new Set(room.otherDevices().map((p) => p.toString()))
    for (const id of previous) {
      if (now.has(id)) continue
      const connections = this.peer.getConnections().filter((c) => c.remotePeer.toString() === id)
      const peer = connections[0]?.remotePeer
      if (peer == null) continue
      void this.syncWith(room, peer, { evenIfNotMember: true }).finally(() => {
        if (this.init.gater?.allows(peer) === true) return
        for (const connection of connections) void connection.close().catch(() => undefined)
      })
    }
  }

  private changed(room: Room | undefined): void {
    this.safeDispatchEvent('change', { detail: room })
    void this.save()
  }

  private async save(): Promise<void> {
    const store = this.init.store
    if (store == null) return
    // one write at a time, the latest state last
    const previous = this.saving ?? Promise.resolve()
    this.saving = previous
      .then(async () => {
        await store.put(encode({ v: 1, rooms: [...this.rooms.values()].map((r) => r.toBytes()) }))
      })
      .catch(() => undefined)
    await this.saving
  }

  private answer(stream: Stream, connection: Connection): void {
    const signal = AbortSignal.timeout(this.init.inviteTimeoutMs ?? DEFAULT_INVITE_TIMEOUT_MS)
    answerInvite(channelFromStream(stream, signal, 16 * 1024), {
      room: (id) => this.rooms.get(id),
      self: this.identity.deviceId,
      remote: connection.remotePeer
    }).then(
      async (room) => {
        await stream.close().catch(() => undefined)
        this.init.gater?.release(connection.remotePeer)
        this.changed(room)
        void this.syncWith(room, connection.remotePeer)
      },
      (err: unknown) => {
        // a refusal was written: let it reach the newcomer (an abort would discard it, and the newcomer would only
        // see its stream reset); anything else broke the stream already
        if (err instanceof InviteError) {
          stream.close({ signal: AbortSignal.timeout(REFUSAL_CLOSE_MS) }).catch((closeErr: unknown) => {
            stream.abort(closeErr as Error)
          })
        } else {
          stream.abort(err as Error)
        }
        const error =
          err instanceof InviteError
            ? err
            : new InviteError(
                'PROTOCOL',
                `${signal.aborted ? 'the exchange timed out: ' : ''}${(err as Error).message}`,
                { cause: err }
              )
        this.safeDispatchEvent('invite:error', { detail: { peer: connection.remotePeer, error } })
        this.init.gater?.release(connection.remotePeer)
        // a stranger who failed goes away
        if (this.init.gater?.allows(connection.remotePeer) === false) {
          setTimeout(() => void connection.close().catch(() => undefined), 1_000)
        }
      }
    )
  }

  /**
   * The room protocol's dialer side: the log's digest and attestations out (with every entry hash, unless the peer
   * held this very log at the last sync), the entries we lack in, then theirs out. When the hashes were left out
   * and the peer's log has moved on since, the exchange runs again with them.
   */
  async syncWith(
    room: Room,
    peer: PeerId,
    options: { evenIfNotMember?: boolean; listHashes?: boolean } = {}
  ): Promise<void> {
    if (options.evenIfNotMember !== true && !room.isMemberDevice(peer)) return
    const signal = AbortSignal.timeout(DEFAULT_SYNC_TIMEOUT_MS)
    const key = `${room.id}\n${peer.toString()}`
    const digest = room.digest()
    const heard = this.digestsHeard.get(key)
    const listed = options.listHashes === true || heard == null || !equals(heard, digest)
    let again = false
    // the attestations are picked once: an exchange that failed on a kept stream runs again on a new one, and picked
    // anew they would leave out what the failed try marked as held (the peer never heard them until the next attest)
    let nb: Uint8Array[] | undefined
    const marked: Mark[] = []
    try {
      again = await this.sessions.run(peer, signal, async (channel) => {
        nb ??= this.attestationsFor(room, peer, marked)
        await channel.write(
          encode({
            t: 'sync',
            room: room.id,
            ...(listed ? { have: room.hashes() } : {}),
            hd: digest,
            nb
          })
        )
        const reply = read.map(decode(await channel.read(), MAX_ROOM_MESSAGE_BYTES), 'sync reply')
        if (reply.t !== 'sync') throw new RoomError('NOT_MEMBER', `the peer refused: ${String(reply.code)}`)
        read.keys(reply, ['t', 'have', 'hd', 'entries', 'nb'], 'sync reply')
        await this.absorb(room, reply, peer)
        // (a reply without hashes means the peer holds this very log: nothing to send)
        const lacking = reply.have != null ? room.missing(read.strings(reply, 'have', 4 * 4096, 43)) : []
        await channel.write(encode({ t: 'entries', entries: lacking }))
        const theirDigest = reply.hd != null ? read.bytes(reply, 'hd', 32) : undefined
        if (theirDigest != null) this.digestsHeard.set(key, theirDigest)
        // hashes left out, and the peer's log is not ours: it sent its hashes but no entries, so ask again with ours
        return !listed && (theirDigest == null || !equals(theirDigest, room.digest()))
      })
    } catch {
      this.digestsHeard.delete(key)
      this.unmark(room, peer, marked)
    }
    if (again) await this.syncWith(room, peer, { ...options, listHashes: true })
  }

  /**
   * Whether the periodic sync with `peer` is left to it: a sync runs both ways (entries and attestations out and
   * in), so of two devices whose logs matched at their last exchange only the lower id starts one each round; the
   * other answers it. Every sync opened a stream (an RTCDataChannel) from each end every round before. A device
   * whose log has moved on since it last heard the peer's digest syncs itself.
   */
  private syncedByThem(room: Room, peer: PeerId): boolean {
    if (peer.toString() > this.peer.peerId.toString()) return false
    const heard = this.digestsHeard.get(`${room.id}\n${peer.toString()}`)
    return heard != null && equals(heard, room.digest())
  }

  /**
   * The attestations to send `peer` in a sync: those newer than what it holds (was sent, or sent). Every sync carried all of
   * them before, which in a room of 16 browsers was most of the bytes on the wire. A message that was lost leaves
   * `peer` without some until their devices attest again (every `attestIntervalMs`).
   */
  private attestationsFor(room: Room, peer: PeerId, marked?: Mark[]): Uint8Array[] {
    const held = this.heldBy(room, peer)
    const out: Uint8Array[] = []
    for (const attestation of this.attested(room)) {
      const device = attestation.deviceId.toString()
      const before = held.get(device)
      if (device === peer.toString() || (before ?? -1) >= attestation.at) continue
      held.set(device, attestation.at)
      marked?.push({ device, at: attestation.at, before })
      out.push(attestation.bytes)
    }
    return out
  }

  /**
   * Takes back what `attestationsFor` marked as held by `peer` for an exchange that failed: the message may never
   * have reached it, and nothing else would send those attestations before their devices attest again.
   */
  private unmark(room: Room, peer: PeerId, marked: Mark[]): void {
    const held = this.heldBy(room, peer)
    for (const { device, at, before } of marked) {
      // (unless something newer was marked since, by a later exchange or by what the peer sent)
      if (held.get(device) !== at) continue
      if (before == null) held.delete(device)
      else held.set(device, before)
    }
  }

  /**
   * Takes a sync message's entries (at once) and its neighbour attestations (each checked once, by the hash of its
   * bytes, with the signature checked by WebCrypto where the platform has Ed25519). The attestations `from` sent
   * are ones it holds: they are not sent back to it.
   */
  private async absorb(room: Room, message: Record<string, unknown>, from?: PeerId): Promise<void> {
    room.add(bytesList(message.entries ?? [], 4 * 4096))
    const checks: Array<Promise<HeldAttestation | undefined>> = []
    for (const bytes of bytesList(message.nb ?? [], 1024)) {
      // a signature check costs about a millisecond in a browser's JavaScript; in a room of 16 re-checking the same
      // attestations on every sync took a quarter of a device's CPU
      const id = `${room.id}\n${toString(sha256(bytes), 'base64')}`
      if (this.checkedAttestations.has(id)) {
        checks.push(Promise.resolve(this.checkedAttestations.get(id)))
        continue
      }
      let checking = this.checkingAttestations.get(id)
      if (checking == null) {
        checking = readAttestationAsync(bytes, room.id)
          .then(
            (attestation) => {
              // (one from a device not yet known as a member is looked at again when it comes again)
              if (!room.isMemberDevice(attestation.deviceId)) return undefined
              const good = { device: attestation.deviceId.toString(), at: attestation.at }
              this.checked(id, good)
              this.keep(room, attestation)
              return good
            },
            () => {
              // a bad attestation is ignored, and these bytes are never checked again
              this.checked(id, undefined)
              return undefined
            }
          )
          .finally(() => this.checkingAttestations.delete(id))
        this.checkingAttestations.set(id, checking)
      }
      checks.push(checking)
    }
    const good = await Promise.all(checks)
    if (from == null) return
    // in a room of 48 every device sent every fresh attestation to each connected member and got each back from it:
    // what a peer sent, it holds
    const held = this.heldBy(room, from)
    for (const attestation of good) {
      if (attestation != null && (held.get(attestation.device) ?? -1) < attestation.at)
        held.set(attestation.device, attestation.at)
    }
  }

  /** The `at` of each device's newest attestation that `peer` holds in `room` (see `attestationsHeld`). */
  private heldBy(room: Room, peer: PeerId): Map<string, number> {
    const key = `${room.id}\n${peer.toString()}`
    let held = this.attestationsHeld.get(key)
    if (held == null) {
      held = new Map<string, number>()
      this.attestationsHeld.set(key, held)
    }
    return held
  }

  private checked(id: string, attestation: HeldAttestation | undefined): void {
    if (this.checkedAttestations.size >= MAX_CHECKED_ATTESTATIONS) this.checkedAttestations.clear()
    this.checkedAttestations.set(id, attestation)
  }

  /** The room protocol's responder: exchanges one after another on the stream (see room-sessions.ts). */
  private respond(stream: Stream, connection: Connection): void {
    serveRoomSession(stream, async (first, channel) => this.answerSync(first, channel, connection), {
      maxMessageBytes: MAX_ROOM_MESSAGE_BYTES,
      exchangeTimeoutMs: DEFAULT_SYNC_TIMEOUT_MS
    }).catch((err: unknown) => {
      stream.abort(err as Error)
    })
  }

  /** One exchange of the room protocol, from its first message; false after a refusal (the stream then ends). */
  private async answerSync(
    first: Uint8Array,
    channel: RoomChannel,
    connection: Connection
  ): Promise<boolean> {
    const request = read.map(decode(first, MAX_ROOM_MESSAGE_BYTES), 'sync')
    read.keys(request, ['t', 'room', 'have', 'hd', 'nb'], 'sync')
    const id = read.string(request, 'room', 43)
    const room = this.rooms.get(id)
    // the node-wide gater let the peer in; this room's membership is checked here, on the authenticated peer
    // (a device that left still answers members, so its leave reaches them even if its own push failed)
    if (room == null || !room.isMemberDevice(connection.remotePeer)) {
      this.safeDispatchEvent('refused', { detail: { peer: connection.remotePeer, room: id } })
      await channel.write(encode({ t: 'error', code: 'NOT_MEMBER' }))
      return false
    }
    const listed = request.have != null
    const theirs = listed ? read.strings(request, 'have', 4 * 4096, 43) : []
    // (a dialer that lists its hashes may leave the digest out, as before digests)
    const theirDigest = request.hd != null || !listed ? read.bytes(request, 'hd', 32) : undefined
    await this.absorb(room, { nb: request.nb }, connection.remotePeer)
    const digest = room.digest()
    // a dialer that left its hashes out holds the log it had at the last sync; if that is ours, nothing to list
    const same = !listed && theirDigest != null && equals(theirDigest, digest)
    if (theirDigest != null)
      this.digestsHeard.set(`${room.id}\n${connection.remotePeer.toString()}`, theirDigest)
    const marked: Mark[] = []
    try {
      await channel.write(
        encode({
          t: 'sync',
          ...(same ? {} : { have: room.hashes() }),
          hd: digest,
          entries: listed ? room.missing(theirs) : [],
          nb: this.attestationsFor(room, connection.remotePeer, marked)
        })
      )
    } catch (err: unknown) {
      this.unmark(room, connection.remotePeer, marked)
      throw err
    }
    const rest = read.map(decode(await channel.read(), MAX_ROOM_MESSAGE_BYTES), 'entries')
    if (room.isMemberDevice(connection.remotePeer)) await this.absorb(room, rest)
    return true
  }
}

/** Resolves after `ms`, or at once when `signal` ends. */
async function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
