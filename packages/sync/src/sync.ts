import { decode, encode, read } from '@kith/identity'
import { protocolId } from '@kith/peer'
import { dataKey, meshGraph, openData, packedEpoch, sealPacked } from '@kith/trust'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { TypedEventEmitter } from 'main-event'
import { ed25519Signer, ed25519Verifier } from './ed25519.ts'
import { FramedStream } from './framed.ts'
import { SyncError } from './errors.ts'
import { MAX_FRAME_BYTES, decodeFrame, encodeFrame } from './frames.ts'
import { Replica } from './replica.ts'
import { BroadcastTrees } from './tree.ts'
import { warmUp } from './warm-up.ts'
import type { Frame } from './frames.ts'
import type { DocStore } from './store.ts'
import type { Identity } from '@kith/identity'
import type { KithPeer } from '@kith/peer'
import type { Room, Rooms } from '@kith/trust'
import type { Connection, PeerId, PublicKey, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Awareness } from 'y-protocols/awareness'
import type * as Y from 'yjs'

export const SYNC_VERSION = 2
/** The protocol id's version: `/kith/<appId>/sync/2.0.0` (1.0.0 carried DAG-CBOR frames). */
const SYNC_PROTOCOL_VERSION = `${SYNC_VERSION}.0.0`
export const DEFAULT_ANTI_ENTROPY_MS = 10_000
export const DEFAULT_CONFIRM_MS = 1_000
/** How often the replicas keep the presences of devices still up alive (`Replica.keepPresence`). */
const PRESENCE_KEEP_INTERVAL_MS = 5_000
const HELLO_TIMEOUT_MS = 10_000
const MAX_HELLO_BYTES = 1024
/** A link that has sent nothing for this many anti-entropy rounds is dead. */
const SILENT_ROUNDS = 3
/** A link whose peer will not read more than this many queued bytes is dropped (and healed later). */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024
/** Refused messages on one link before it is dropped. */
const MAX_STRIKES = 3
/** Neighbour attestations younger than this count as a link still up (members attest every 10 s by default). */
const ATTESTED_FRESH_MS = 25_000
const LINKS_SEEN_MS = 1_000
/** How long the higher peer id of two mesh neighbours waits for the lower one to open their link. */
const LINK_GRACE_MS = 2_000
/** How soon after a link drops the mesh is looked at again (its connection may have closed as a duplicate). */
const RELINK_MS = 500

export interface SyncInit {
  peer: KithPeer
  rooms: Rooms
  identity: Identity
  /** The app's id: the protocol is `/kith/<appId>/sync/2.0.0`. */
  appId: string
  /** Where documents live on this device (default: memory only). */
  store?: DocStore
  /** How often each link exchanges state vectors to heal what was lost (default 10 s). */
  antiEntropyMs?: number
  /** How often unconfirmed local changes are checked with peers (default 1 s). */
  confirmMs?: number
  /** A catch-up larger than this is refused (default 256 MiB). */
  maxDocBytes?: number
  /** Documents per room (default 64). */
  maxDocs?: number
  /**
   * Battery mode: after this long with no local or remote change, drop this device's room links (and stop keeping
   * a mesh) until the next local change or `wake()`. Off by default.
   */
  idleAfterMs?: number
}

export interface SyncStatus {
  /** Member devices this device has a sync link with. */
  peers: string[]
  /** `online`: at least one link; `connecting`: members exist but no link yet; `alone`: no other member device; `asleep`: battery mode. */
  state: 'online' | 'connecting' | 'alone' | 'asleep'
  /** When the last change from a peer arrived. */
  lastSync?: number
  /** Local changes no peer has confirmed holding (Yjs clock units: about one per character or item). */
  unconfirmed: number
  /** A catch-up in progress: bytes received of total, per document. */
  catchingUp: Array<{ doc: string; received: number; total: number }>
}

export interface SyncEvents {
  /** Status of `room` changed (links, confirmations, catch-up progress). */
  status: CustomEvent<{ room: string }>
  /** A catch-up of `doc` from `peer` finished. */
  synced: CustomEvent<{ room: string; doc: string; peer: string; bytes: number }>
  /** A message or a link was refused, or a catch-up failed: never silent. */
  rejected: CustomEvent<{ room: string; peer: string; error: SyncError }>
}

interface LinkState {
  readonly room: string
  readonly remote: PeerId
  readonly stream: Stream
  queue: Frame[]
  queued: number
  /** Sending waits: for the stream to drain, or for the epoch key to seal with. */
  waiting: boolean
  heard: number
  strikes: number
  closed: boolean
  /** This device opened the link (it is the one to close it when the mesh moves). */
  readonly opened: boolean
}

/**
 * Yjs documents shared in `@kith/trust` rooms. Each room has a {@link Replica}; each connected mesh neighbour
 * (`rooms.meshNeighboursOf`) gets one sync stream per room, over which every message is sealed under the room's
 * current epoch key. Links are made only over direct (not relayed) connections, which `Rooms` keeps as a mesh of
 * bounded degree; updates reach the rest of the room by forwarding.
 */
export class Sync extends TypedEventEmitter<SyncEvents> {
  readonly protocol: string
  private readonly replicas = new Map<string, Replica>()
  private readonly links = new Map<string, LinkState>()
  private readonly closers = new Map<string, Array<() => Promise<void>>>()
  private readonly progress = new Map<string, Map<string, { received: number; total: number }>>()
  private readonly keys = new Map<string, Uint8Array>()
  /** Links being opened (room + peer), so a second trigger does not open another. */
  private readonly opening = new Set<string>()
  /** Failed attempts to open each link, for the retry backoff. */
  private readonly attempts = new Map<string, number>()
  private readonly publicKeys = new Map<string, PublicKey>()
  /**
   * Pairs of devices linked to each other and the broadcast trees, by room, from the mesh rule and the members'
   * attestations (rebuilt every second).
   */
  private readonly linksSeen = new Map<string, { at: number; pairs: Set<string>; trees: BroadcastTrees }>()
  private readonly sign: (message: Uint8Array) => Promise<Uint8Array>
  /** This device's peer id, as origins name it. */
  private readonly self: string
  private readonly verifyWith = ed25519Verifier()
  /** A frame sent on several links is sealed once: the sealed bytes, by the epoch they were sealed under. */
  private readonly sealed = new WeakMap<Frame, { n: number; bytes: Uint8Array }>()
  private timers: Array<ReturnType<typeof setInterval>> = []
  private recheck?: ReturnType<typeof setTimeout>
  private started = false
  private asleep = false
  private lastActivity = Date.now()
  private readonly onConnect = (): void => {
    this.link()
  }

  private readonly onRooms = (): void => {
    this.link()
  }

  constructor(private readonly init: SyncInit) {
    super()
    this.protocol = protocolId(init.appId, 'sync', SYNC_PROTOCOL_VERSION)
    this.sign = ed25519Signer(init.identity.device)
    this.self = init.peer.peerId.toString()
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    // compile the edit path before the first edit comes (warm-up.ts: it runs cold at human editing rates)
    warmUp()
    await this.init.peer.handle(this.protocol, (stream, connection) => this.answer(stream, connection), {
      maxInboundStreams: 256
    })
    this.init.peer.addEventListener('connection:open', this.onConnect)
    this.init.rooms.addEventListener('change', this.onRooms)
    const antiEntropy = this.init.antiEntropyMs ?? DEFAULT_ANTI_ENTROPY_MS
    this.timers = [
      setInterval(() => {
        this.tick()
      }, antiEntropy),
      setInterval(() => {
        for (const replica of this.replicas.values()) replica.confirm()
        this.checkIdle()
      }, this.init.confirmMs ?? DEFAULT_CONFIRM_MS),
      setInterval(() => {
        for (const replica of this.replicas.values()) replica.keepPresence()
      }, PRESENCE_KEEP_INTERVAL_MS)
    ]
    this.link()
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    for (const timer of this.timers) clearInterval(timer)
    clearTimeout(this.recheck)
    this.recheck = undefined
    this.init.peer.removeEventListener('connection:open', this.onConnect)
    this.init.rooms.removeEventListener('change', this.onRooms)
    await this.init.peer.unhandle(this.protocol)
    for (const link of [...this.links.values()]) this.drop(link)
    for (const replica of this.replicas.values()) replica.destroy()
    for (const closers of this.closers.values()) await Promise.all(closers.map(async (close) => close()))
    this.replicas.clear()
    this.closers.clear()
  }

  /** The replica of `room` (its documents and awareness). Throws `SyncError` if this device is not a member. */
  replica(room: Room | string): Replica {
    const id = typeof room === 'string' ? room : room.id
    const known = this.replicas.get(id)
    if (known != null) return known
    const held = this.init.rooms.get(id)
    if (held?.me == null) throw new SyncError('NOT_MEMBER', 'this device is not a member of the room')
    const replica = new Replica({
      room: id,
      self: this.init.peer.peerId.toString(),
      sign: async (message) => this.sign(message),
      verify: async (origin, message, signature) => this.verify(origin, message, signature),
      mayWrite: (origin) => this.mayWrite(id, origin),
      present: (origin) => this.present(id, origin),
      linked: (origin, peer, from) => this.linked(id, origin, peer, from),
      direct: () => this.linkedToAll(id),
      load: async (name, doc) => this.load(id, name, doc),
      maxDocs: this.init.maxDocs,
      maxDocBytes: this.init.maxDocBytes,
      catchUpTimeoutMs: (this.init.antiEntropyMs ?? DEFAULT_ANTI_ENTROPY_MS) * SILENT_ROUNDS
    })
    const status = (): void => {
      this.safeDispatchEvent('status', { detail: { room: id } })
    }
    replica.addEventListener('status', status)
    replica.addEventListener('doc', (event) => {
      event.detail.doc.on('update', (_update: Uint8Array, origin: unknown) => {
        this.lastActivity = Date.now()
        // a local edit (not one from the network, whose transactions carry a symbol) wakes a sleeping device
        if (this.asleep && typeof origin !== 'symbol') this.wake()
      })
    })
    replica.addEventListener('progress', (event) => {
      const byDoc = this.progress.get(id) ?? new Map<string, { received: number; total: number }>()
      this.progress.set(id, byDoc)
      byDoc.set(event.detail.doc, { received: event.detail.received, total: event.detail.total })
      status()
    })
    replica.addEventListener('synced', (event) => {
      this.progress.get(id)?.delete(event.detail.doc)
      this.safeDispatchEvent('synced', { detail: { room: id, ...event.detail } })
    })
    replica.addEventListener('rejected', (event) => {
      this.progress.get(id)?.clear()
      this.safeDispatchEvent('rejected', { detail: { room: id, ...event.detail } })
      status()
    })
    this.replicas.set(id, replica)
    this.link()
    return replica
  }

  /** The document `name` of `room`, loaded from this device's store (it then syncs with the room's members). */
  async doc(room: Room | string, name: string): Promise<Y.Doc> {
    return this.replica(room).ready(name)
  }

  /** Presence for `room`: set `awareness.setLocalState({...})`; other members' states arrive as they change. */
  awareness(room: Room | string): Awareness {
    return this.replica(room).awareness
  }

  status(room: Room | string): SyncStatus {
    const id = typeof room === 'string' ? room : room.id
    const replica = this.replicas.get(id)
    const peers = replica?.peers() ?? []
    const others = this.init.rooms.get(id)?.otherDevices().length ?? 0
    return {
      peers,
      state: this.asleep ? 'asleep' : peers.length > 0 ? 'online' : others > 0 ? 'connecting' : 'alone',
      lastSync: replica?.lastSync,
      unconfirmed: replica?.unconfirmed() ?? 0,
      catchingUp: [...(this.progress.get(id) ?? new Map<string, { received: number; total: number }>())].map(
        ([doc, p]) => ({ doc, ...p })
      )
    }
  }

  /** Battery mode now: drops every sync link and stops keeping the room mesh until `wake()` or a local change. */
  sleep(): void {
    if (this.asleep) return
    this.asleep = true
    for (const link of [...this.links.values()]) this.drop(link)
    this.init.rooms.pauseMesh(true)
    for (const room of this.replicas.keys()) this.safeDispatchEvent('status', { detail: { room } })
  }

  /** Leaves battery mode: the mesh reconnects and each link catches up by state vector. */
  wake(): void {
    if (!this.asleep) return
    this.asleep = false
    this.lastActivity = Date.now()
    this.init.rooms.pauseMesh(false)
    this.link()
    for (const room of this.replicas.keys()) this.safeDispatchEvent('status', { detail: { room } })
  }

  /** Anti-entropy now (it also runs on a timer): every link exchanges state vectors; dead links are dropped. */
  tick(): void {
    const silentMs = (this.init.antiEntropyMs ?? DEFAULT_ANTI_ENTROPY_MS) * SILENT_ROUNDS
    for (const link of [...this.links.values()]) {
      if (Date.now() - link.heard > silentMs) this.drop(link)
    }
    this.link()
    for (const replica of this.replicas.values()) replica.tick()
  }

  private checkIdle(): void {
    const idle = this.init.idleAfterMs
    if (idle == null || this.asleep) return
    if (Date.now() - this.lastActivity > idle) this.sleep()
  }

  /**
   * Whether member device `origin` is up in `room`: linked to this device, or its last neighbour attestation is
   * fresh (a device that stops attesting has gone; its presence then times out).
   */
  private present(room: string, origin: string): boolean {
    if (this.links.has(`${room}\n${origin}`)) return true
    const held = this.init.rooms.get(room)
    if (held == null || !held.isMemberDevice(origin)) return false
    const now = Date.now()
    return this.init.rooms
      .attested(held)
      .some((a) => a.deviceId.toString() === origin && now - a.at <= ATTESTED_FRESH_MS)
  }

  private mayWrite(room: string, origin: string): boolean {
    if (origin === this.self) return true
    return this.init.rooms.get(room)?.isMemberDevice(origin) ?? false
  }

  /**
   * Whether `peer` gets `origin`'s update in `room` from another device than this one, so forwarding it there
   * would only send a duplicate: `origin` and `peer` are mesh neighbours that both attested their connection
   * lately, or (for an update this device got from `from`) `peer`'s parents in the broadcast trees rooted at
   * `origin` are other devices. The tree is taken over the mesh the rule makes, less the links a fresh
   * attestation shows down, so devices that hold different attestations still mostly agree on it; where this
   * device is not in the tree, it forwards to everyone.
   */
  private linked(room: string, origin: string, peer: string, from?: string): boolean {
    let known = this.linksSeen.get(room)
    const now = Date.now()
    if (known == null || now - known.at > LINKS_SEEN_MS) {
      known = { at: now, ...this.attestedLinks(room, now) }
      this.linksSeen.set(room, known)
    }
    if (known.pairs.has(`${origin}\n${peer}`)) return true
    if (from == null || !known.trees.reaches(origin, this.self)) return false
    const parents = known.trees.parents(origin, peer)
    return parents.length > 0 && !parents.includes(this.self)
  }

  /** Whether this device has a link in `room` with each of the room's other member devices. */
  private linkedToAll(room: string): boolean {
    const others = this.init.rooms.get(room)?.otherDevices()
    if (others == null || others.length > this.links.size) return false
    for (const device of others) if (!this.links.has(`${room}\n${device.toString()}`)) return false
    return true
  }

  private attestedLinks(id: string, now: number): { pairs: Set<string>; trees: BroadcastTrees } {
    const pairs = new Set<string>()
    const room = this.init.rooms.get(id)
    if (room == null) return { pairs, trees: new BroadcastTrees(new Map()) }
    const reported = new Set<string>()
    const attested = new Set<string>()
    for (const attestation of this.init.rooms.attested(room)) {
      if (now - attestation.at > ATTESTED_FRESH_MS) continue
      const from = attestation.deviceId.toString()
      attested.add(from)
      for (const to of attestation.peers) reported.add(`${from}\n${to}`)
    }
    const devices = room.state.members.flatMap((m) => m.devices.map((d) => d.deviceId.toString()))
    const graph = meshGraph(id, devices, {
      degree: this.init.rooms.meshDegree,
      fullMesh: this.init.rooms.fullMeshUpTo
    })
    const up = new Map<string, Set<string>>()
    // a link is down if either end's fresh attestation leaves it out; with no fresh word from either, it is up
    const shown = (a: string, b: string): boolean => !attested.has(a) || reported.has(`${a}\n${b}`)
    for (const [device, neighbours] of graph) {
      const links = new Set<string>()
      up.set(device, links)
      for (const neighbour of neighbours) {
        if (reported.has(`${device}\n${neighbour}`) && reported.has(`${neighbour}\n${device}`)) {
          pairs.add(`${device}\n${neighbour}`)
        }
        if (shown(device, neighbour) && shown(neighbour, device)) links.add(neighbour)
      }
    }
    return { pairs, trees: new BroadcastTrees(up) }
  }

  private async verify(origin: string, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    let key = this.publicKeys.get(origin)
    if (key == null) {
      try {
        key = peerIdFromString(origin).publicKey
      } catch {
        return false
      }
      if (key == null) return false
      this.publicKeys.set(origin, key)
    }
    return this.verifyWith(key, message, signature)
  }

  private async load(room: string, name: string, doc: Y.Doc): Promise<void> {
    const store = this.init.store
    if (store == null) return
    const close = await store.bind(`${room}/${name}`, doc)
    const closers = this.closers.get(room) ?? []
    closers.push(close)
    this.closers.set(room, closers)
  }

  /**
   * Opens the links this device is due to open and drops those it opened to devices no longer its mesh neighbours.
   * Links follow the room mesh (`rooms.meshNeighboursOf`): the lower peer id of two neighbours opens their link at
   * once; the higher one opens it only if none came within `LINK_GRACE_MS` (their views of the mesh can differ
   * while one of them skips an unreachable device). A device with no link to a neighbour yet links to a member it
   * is connected to (a newcomer to its inviter) and drops that link once it has one.
   */
  private link(): void {
    if (!this.started || this.asleep) return
    const me = this.init.peer.peerId.toString()
    let recheck = false
    for (const room of this.init.rooms.list()) {
      if (room.me == null) continue
      const neighbours = new Set(this.init.rooms.meshNeighboursOf(room).map((p) => p.toString()))
      const linked = [...this.links.values()].filter((l) => l.room === room.id)
      // a device with no link to a mesh neighbour yet (a newcomer, whose only connection is to its inviter) links to
      // any member it is connected to, so it catches up now rather than after its mesh dials
      const meshed = linked.some((l) => neighbours.has(l.remote.toString()))
      for (const link of linked) {
        if (!room.isMemberDevice(link.remote)) {
          this.fail(link, new SyncError('NOT_MEMBER', 'the peer is no longer a member'))
        } else if (link.opened && meshed && !neighbours.has(link.remote.toString())) {
          // the room grew and the mesh moved (or the newcomer has its mesh): the link goes, and Rooms closes the
          // idle connection later
          this.drop(link)
        }
      }
      // every room this device is a member of replicates, whether or not the app opened a document in it yet
      this.replica(room)
      for (const device of room.otherDevices()) {
        const id = device.toString()
        // a non-neighbour only for a device with no link at all in the room
        if (!neighbours.has(id) && linked.length > 0) continue
        const connection = this.init.peer
          .getConnections(device)
          .find((c) => c.limits == null && c.status === 'open')
        if (connection == null) continue
        // (a newcomer's link to a non-neighbour is its own to open: the other end does not wait to open it)
        if (id < me && neighbours.has(id) && Date.now() - connection.timeline.open < LINK_GRACE_MS) {
          recheck = true
          continue
        }
        void this.open(room, connection)
      }
    }
    if (recheck) this.linkLater(LINK_GRACE_MS)
  }

  /** Runs `link()` after `ms`, unless a run is already due. */
  private linkLater(ms: number): void {
    if (!this.started || this.asleep || this.recheck != null) return
    this.recheck = setTimeout(() => {
      this.recheck = undefined
      this.link()
    }, ms)
  }

  private async open(room: Room, connection: Connection): Promise<void> {
    const key = `${room.id}\n${connection.remotePeer.toString()}`
    if (this.links.has(key) || this.opening.has(key)) return
    // hold the slot while the stream opens, so ticks do not open a second one
    this.opening.add(key)
    try {
      const signal = AbortSignal.timeout(HELLO_TIMEOUT_MS)
      const stream = await connection.newStream(this.protocol, { signal })
      // one reader for the stream's whole life: a second would lose what the first had buffered
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      await lp.write(encode({ v: SYNC_VERSION, r: room.id }), { signal })
      const answer = read.map(decode((await lp.read({ signal })).subarray(), MAX_HELLO_BYTES), 'sync answer')
      if (typeof answer.e === 'string')
        throw new SyncError('NOT_MEMBER', `the peer refused the link: ${answer.e}`)
      if (answer.v !== SYNC_VERSION) throw new SyncError('MALFORMED', 'the peer speaks another sync version')
      this.opening.delete(key)
      this.attempts.delete(key)
      this.run(room, { remote: connection.remotePeer, stream, lp, opened: true })
    } catch (err: unknown) {
      this.opening.delete(key)
      const error =
        err instanceof SyncError ? err : new SyncError('TIMEOUT', (err as Error).message, { cause: err })
      // a newcomer's first try often races the admission (the peer has not stored the room yet): retry soon,
      // backing off to the anti-entropy period, and tell the app once it has failed a few times
      const attempts = (this.attempts.get(key) ?? 0) + 1
      this.attempts.set(key, attempts)
      const period = this.init.antiEntropyMs ?? DEFAULT_ANTI_ENTROPY_MS
      setTimeout(() => this.link(), Math.min(period, 200 * 2 ** attempts))
      if (attempts >= 3) {
        this.safeDispatchEvent('rejected', {
          detail: { room: room.id, peer: connection.remotePeer.toString(), error }
        })
      }
    }
  }

  private answer(stream: Stream, connection: Connection): void {
    const remote = connection.remotePeer
    void (async () => {
      const signal = AbortSignal.timeout(HELLO_TIMEOUT_MS)
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      const hello = read.map(decode((await lp.read({ signal })).subarray(), MAX_HELLO_BYTES), 'sync hello')
      const roomId = read.string(hello, 'r', 64)
      const room = this.init.rooms.get(roomId)
      const refuse = async (code: string): Promise<void> => {
        await lp.write(encode({ e: code }), { signal })
        await stream.close()
      }
      if (room?.me == null || this.asleep) return refuse('UNKNOWN_ROOM')
      if (!room.isMemberDevice(remote) || connection.limits != null) return refuse('NOT_MEMBER')
      if (hello.v !== SYNC_VERSION) return refuse('MALFORMED')
      await lp.write(encode({ v: SYNC_VERSION }), { signal })
      this.replica(room)
      this.run(room, { remote, stream, lp, opened: false })
    })().catch((err: unknown) => {
      stream.abort(err as Error)
    })
  }

  /** Runs a link: frames are sealed and sent in order as they are queued; a reader opens, checks and applies. */
  private run(
    room: Room,
    {
      remote,
      stream,
      lp,
      opened
    }: { remote: PeerId; stream: Stream; lp: LengthPrefixedStream<Stream>; opened: boolean }
  ): void {
    // past the hello, messages are read from the stream's events (anything the hello reader buffered is replayed)
    const framed = new FramedStream(lp.unwrap(), MAX_FRAME_BYTES)
    const replica = this.replica(room)
    // both ends opened at once (rare: see LINK_GRACE_MS): the newer link replaces the older on each side
    const existing = this.links.get(`${room.id}\n${remote.toString()}`)
    if (existing != null) this.drop(existing)
    const link: LinkState = {
      room: room.id,
      remote,
      stream,
      queue: [],
      queued: 0,
      waiting: false,
      heard: Date.now(),
      strikes: 0,
      closed: false,
      opened
    }
    this.links.set(`${room.id}\n${remote.toString()}`, link)
    const aad = new TextEncoder().encode(`kith/sync/v2\n${room.id}`)
    const peer = remote.toString()
    const failed = (err: unknown): void => {
      this.fail(link, new SyncError('TIMEOUT', `writing to the peer failed: ${(err as Error).message}`))
    }
    const resume = (): void => {
      link.waiting = false
      write()
    }
    // queued frames are sealed and sent in order, at once while the stream takes them (an edit reaches the wire in
    // the turn it was made); a full stream or an epoch key still being derived holds the rest back
    const write = (): void => {
      try {
        while (!link.closed && !link.waiting) {
          const frame = link.queue[0]
          if (frame == null) return
          const sealed = this.seal(room, frame, aad)
          if (!(sealed instanceof Uint8Array)) {
            link.waiting = true
            sealed.then(resume, failed)
            return
          }
          link.queue.shift()
          link.queued -= queuedBytes(frame)
          if (!framed.send(sealed)) {
            link.waiting = true
            framed.drained().then(resume, failed)
          }
        }
      } catch (err: unknown) {
        failed(err)
      }
    }
    void (async () => {
      while (!link.closed) {
        const sealed = await framed.next()
        if (sealed == null) break
        link.heard = Date.now()
        try {
          await this.receive(room, link, sealed, aad)
        } catch (err: unknown) {
          const error = err instanceof SyncError ? err : new SyncError('MALFORMED', (err as Error).message)
          this.safeDispatchEvent('rejected', { detail: { room: room.id, peer, error } })
          if (error.code === 'STALE_EPOCH') {
            // the peer missed a rotation (or was removed): it learns from the room log; its message is refused
            void this.init.rooms.syncWith(room, link.remote)
          } else if (error.code === 'NOT_MEMBER' || ++link.strikes >= MAX_STRIKES) {
            this.fail(link, error)
          }
        }
      }
      this.drop(link)
    })().catch(() => {
      this.drop(link)
    })
    replica.attach({
      peer,
      send: (frame) => {
        if (link.closed) return
        link.queue.push(frame)
        link.queued += queuedBytes(frame)
        if (link.queued > MAX_QUEUED_BYTES) {
          this.fail(link, new SyncError('TOO_LARGE', 'the peer is not reading; the link is dropped'))
          return
        }
        write()
      }
    })
  }

  private async receive(room: Room, link: LinkState, sealed: Uint8Array, aad: Uint8Array): Promise<void> {
    if (!room.isMemberDevice(link.remote)) throw new SyncError('NOT_MEMBER', 'the peer is no longer a member')
    let parsed: ReturnType<typeof packedEpoch>
    try {
      parsed = packedEpoch(sealed)
    } catch (err: unknown) {
      throw new SyncError('MALFORMED', 'not sealed room data', { cause: err })
    }
    const { n } = parsed
    const current = room.state.epoch.n
    if (n < current) {
      throw new SyncError('STALE_EPOCH', `a message sealed under epoch ${n}; the room is at epoch ${current}`)
    }
    if (n > current) {
      // the peer has seen a rotation this device has not: catch up on the room log, then anti-entropy repeats it
      void this.init.rooms.syncWith(room, link.remote)
      throw new SyncError('NO_KEY', `a message sealed under epoch ${n}, which this device does not hold yet`)
    }
    let plaintext: Uint8Array
    try {
      plaintext = openData(this.keys.get(`${room.id}\n${n}`) ?? (await this.dataKey(room, n)), parsed, aad)
    } catch (err: unknown) {
      throw new SyncError('MALFORMED', 'a message that does not open under the room key', { cause: err })
    }
    const frame = decodeFrame(plaintext)
    // a frame passed on to other links goes out as these same sealed bytes: no second encoding or sealing
    this.sealed.set(frame, { n, bytes: sealed })
    try {
      await this.replica(room).receive(link.remote.toString(), frame)
    } catch (err: unknown) {
      // a forwarder passes updates on before checking them, so a forgery it relayed is not its fault: reported,
      // without a strike against the link
      // (an unsigned update is only ever sent by its author: a link that passes one on is at fault)
      const forwarded = frame.t === 'u' && frame.o !== link.remote.toString() && frame.s.byteLength > 0
      if (!(err instanceof SyncError && err.code === 'BAD_SIGNATURE' && forwarded)) throw err
      this.safeDispatchEvent('rejected', {
        detail: { room: room.id, peer: link.remote.toString(), error: err }
      })
      return
    }
    if (frame.t === 'u' || frame.t === 's2') this.lastActivity = Date.now()
  }

  /**
   * `frame` sealed under the room's current epoch: once, however many links it goes out on. Synchronous when the
   * epoch's key is at hand, so the hot path does not wait a turn for it.
   */
  private seal(room: Room, frame: Frame, aad: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const n = room.state.epoch.n
    const known = this.sealed.get(frame)
    if (known?.n === n) return known.bytes
    const key = this.keys.get(`${room.id}\n${n}`)
    if (key == null) return this.dataKey(room, n).then(() => this.seal(room, frame, aad))
    const bytes = sealPacked(key, n, encodeFrame(frame), aad)
    this.sealed.set(frame, { n, bytes })
    return bytes
  }

  private async dataKey(room: Room, n: number): Promise<Uint8Array> {
    const id = `${room.id}\n${n}`
    let key = this.keys.get(id)
    if (key == null) {
      key = dataKey(await room.epochSecret(n), room.id, n)
      this.keys.set(id, key)
    }
    return key
  }

  private fail(link: LinkState, error: SyncError): void {
    if (link.closed) return
    this.safeDispatchEvent('rejected', {
      detail: { room: link.room, peer: link.remote.toString(), error }
    })
    this.drop(link)
  }

  private drop(link: LinkState): void {
    const key = `${link.room}\n${link.remote.toString()}`
    if (this.links.get(key) === link) this.links.delete(key)
    if (link.closed) return
    link.closed = true
    link.stream.abort(new SyncError('CATCH_UP_FAILED', 'the link was dropped'))
    this.replicas.get(link.room)?.detach(link.remote.toString())
    // a link whose connection closed (a duplicate, a dead path) reopens on another one to the same neighbour
    this.linkLater(RELINK_MS)
  }
}

/** What a queued frame counts against a link's limit of unread bytes. */
function queuedBytes(frame: Frame): number {
  return 'b' in frame ? frame.b.byteLength : 64
}
