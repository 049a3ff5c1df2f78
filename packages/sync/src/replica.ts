import { sha256 } from '@noble/hashes/sha2.js'
import { TypedEventEmitter } from 'main-event'
import { equals } from 'uint8arrays/equals'
import { toString } from 'uint8arrays/to-string'
import {
  Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates
} from 'y-protocols/awareness'
import * as Y from 'yjs'
import { SyncError } from './errors.ts'
import { CHUNK_BYTES, MAX_UPDATE_BYTES, WANT_UPDATE, WANT_VECTOR, isDocName } from './frames.ts'
import { encode } from '@kith/identity'
import { getUnixTime } from 'lib0/time'
import type { Frame } from './frames.ts'

/** One peer this replica talks to. `send` queues; the transport delivers in order or drops the link. */
export interface Link {
  readonly peer: string
  send(frame: Frame): void
}

export interface ReplicaInit {
  /** The room id: bound into every update signature. */
  room: string
  /** This device, as named in the updates it signs. */
  self: string
  /** Signs an update this device made (with its device key). */
  sign(message: Uint8Array): Promise<Uint8Array> | Uint8Array
  /** Checks an update's signature by device `origin`. */
  verify(origin: string, message: Uint8Array, signature: Uint8Array): Promise<boolean> | boolean
  /** Whether device `origin` may write to the room now (a member device in the current epoch). */
  mayWrite(origin: string): boolean
  /**
   * Whether `peer` gets `origin`'s update from a device other than this one, so forwarding it there would only send
   * a duplicate: from `origin` itself (they are linked), or, for an update this device got from `from`, from the
   * device the room's broadcast tree routes it through. A wrong `true` delays the update at `peer` until the gap
   * shows (its next update from the same author cannot be applied, and `peer` pulls) or the next anti-entropy
   * round; by default every update is forwarded on every other link.
   */
  linked?(origin: string, peer: string, from?: string): boolean
  /**
   * Whether every other device that may get this device's updates has a link with it, so none of them needs a
   * forwarded copy: then a local edit goes out unsigned, at once, without waiting for its signature (the link
   * proves who sent it). By default every edit is signed.
   */
  direct?(): boolean
  /** Loads a document from local storage before it syncs; its updates are stored by the same binding. */
  load?(name: string, doc: Y.Doc): Promise<void>
  /** At most this many documents per room (default 64). */
  maxDocs?: number
  /** A catch-up larger than this is refused (default 256 MiB). */
  maxDocBytes?: number
  /** A catch-up that has not finished this long after its last chunk is reported failed (default 30 s). */
  catchUpTimeoutMs?: number
  /**
   * Whether device `origin` is still up in the room (linked here, or attesting its links lately): its presence is
   * kept between its renewals only while it is (see `keepPresence`). @default always
   */
  present?(origin: string): boolean
  now?: () => number
}

export interface ReplicaEvents {
  /** A document was opened here (by the app, or because a peer shared it). */
  doc: CustomEvent<{ name: string; doc: Y.Doc }>
  /** A catch-up from `peer` was applied. */
  synced: CustomEvent<{ doc: string; peer: string; bytes: number }>
  /** A large catch-up is arriving. */
  progress: CustomEvent<{ doc: string; peer: string; received: number; total: number }>
  /** A message was refused (the link may stay up) or a catch-up failed. */
  rejected: CustomEvent<{ peer: string; error: SyncError }>
  /** Something the status shows changed: links, unconfirmed changes, last sync. */
  status: CustomEvent<void>
}

interface DocState {
  readonly name: string
  readonly doc: Y.Doc
  readonly ready: Promise<void>
  /** Still loading from storage (until `ready`). */
  loading: boolean
  /** The last state vector each peer reported. */
  readonly vectors: Map<string, Map<number, number>>
  /** Yjs clients whose changes count as this device's: its own, and those it loaded from storage. */
  readonly own: Set<number>
  /** Keeps this device's signed pushes in order. */
  chain: Promise<void>
  /** Pushes waiting on their signature: an unsigned push goes out at once only when none is. */
  signing: number
  /** When this device last changed the document, and last asked a peer to confirm. */
  changedAt: number
  confirmedAt: number
  /** Which link the next confirmation asks (they take turns). */
  confirmTurn: number
  /** Since when a pushed update has been waiting in Yjs for an earlier change it builds on, if one is. */
  gapSince?: number
}

interface Transfer {
  readonly total: number
  readonly chunks: Map<number, Uint8Array>
  received: number
  touched: number
}

/** How long a pushed update may wait for an earlier one before the peers are asked for what is missing. */
const GAP_WAIT_MS = 300

/** Whether Yjs holds updates it cannot apply yet: they build on changes this document has not seen. */
function hasGap(doc: Y.Doc): boolean {
  return doc.store.pendingStructs != null || doc.store.pendingDs != null
}

/** Marks transactions that came from the network, so they are not pushed back out as local edits. */
const REMOTE = Symbol('kith-sync-remote')
const SEEN_LIMIT = 20_000
/** Confirmation waits for this long a pause in local edits... */
export const CONFIRM_QUIET_MS = 500
/** ...but no longer than this. */
export const CONFIRM_AT_LEAST_MS = 5_000
const AWARENESS_SEEN_LIMIT = 2_000
/**
 * An unchanged presence is sent again (renewed) at most this often. y-protocols renews every 15 s and drops a state
 * not renewed for 30 s; every renewal floods the room, so each device handled n of them per 15 s (at 24 devices
 * about a third of its idle main-thread time went to presence). Receivers keep a state alive between renewals
 * (`keepPresence`).
 */
export const PRESENCE_RENEW_MS = 60_000
/** A presence heard this long ago or less, from a device still present, is kept alive. */
export const PRESENCE_KEEP_MS = PRESENCE_RENEW_MS + 30_000
/** The signature of an update its author sends unsigned: straight to every device that may get it. */
const UNSIGNED = new Uint8Array(0)

/** What an origin signs for an update: bound to the room and the document. */
export function updateSigningInput(room: string, doc: string, update: Uint8Array): Uint8Array {
  return sha256(encode(['kith/sync/update/v1', room, doc, update]))
}

/**
 * The transport-free core of `@kith/sync`: the documents and the awareness of one room, and the rules for what
 * goes on each link. Local edits are signed and pushed to every link; a verified update from a peer is applied and
 * forwarded once to every other link (a partial mesh floods, duplicates are dropped by id). On a new link, and
 * periodically, each side sends its state vectors and gets back what it lacks, in chunks (anti-entropy). The
 * transport (libp2p streams, or a simulated network in tests) seals, frames, orders and limits messages.
 */
export class Replica extends TypedEventEmitter<ReplicaEvents> {
  readonly room: string
  readonly awareness: Awareness
  private readonly docs = new Map<string, DocState>()
  private readonly links = new Map<string, Link>()
  private readonly seen = new Set<string>()
  private readonly seenAwareness = new Set<string>()
  private readonly transfers = new Map<string, Transfer>()
  /** Awareness clients first heard of from each origin device, removed when it goes. */
  private readonly clientsOf = new Map<string, Set<number>>()
  /** Each remote awareness client: the device whose update last named it, and when it came. */
  private readonly presenceHeard = new Map<number, { origin: string; at: number }>()
  /** This device's presence as last sent, and when: an unchanged one goes again only after `PRESENCE_RENEW_MS`. */
  private presenceSent?: { state: string; at: number }
  private nextTransfer = 1
  private readonly maxDocs: number
  private readonly maxDocBytes: number
  private readonly catchUpTimeoutMs: number
  private readonly now: () => number
  lastSync?: number
  private destroyed = false

  constructor(private readonly init: ReplicaInit) {
    super()
    this.room = init.room
    this.maxDocs = init.maxDocs ?? 64
    this.maxDocBytes = init.maxDocBytes ?? 256 * 1024 * 1024
    this.catchUpTimeoutMs = init.catchUpTimeoutMs ?? 30_000
    this.now = init.now ?? (() => Date.now())
    this.awareness = new Awareness(new Y.Doc())
    this.awareness.on(
      'update',
      (change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
        if (origin !== 'local') return
        const clients = [...change.added, ...change.updated, ...change.removed]
        if (this.isRenewal(clients)) return
        const b = encodeAwarenessUpdate(this.awareness, clients)
        this.remember(this.seenAwareness, toString(sha256(b), 'base64'), AWARENESS_SEEN_LIMIT)
        for (const link of this.links.values()) link.send({ t: 'a', o: this.init.self, b })
      }
    )
  }

  /**
   * Whether a local awareness update only renews this device's presence, unchanged, sooner than `PRESENCE_RENEW_MS`
   * after it was last sent (it then stays here); records what is sent otherwise.
   */
  private isRenewal(clients: number[]): boolean {
    const self = this.awareness.clientID
    const state = JSON.stringify(this.awareness.getLocalState())
    const now = this.now()
    const sent = this.presenceSent
    if (
      clients.length === 1 &&
      clients[0] === self &&
      sent?.state === state &&
      now - sent.at < PRESENCE_RENEW_MS
    ) {
      return true
    }
    this.presenceSent = { state, at: now }
    return false
  }

  /**
   * Keeps the remote presences heard within `PRESENCE_KEEP_MS` from devices still present alive in y-protocols (it
   * drops a state not renewed for 30 s; devices renew every `PRESENCE_RENEW_MS`), and lets the others time out. The
   * transport calls it every few seconds (`@kith/sync`: every 5 s).
   */
  keepPresence(): void {
    const now = this.now()
    for (const [client, heard] of this.presenceHeard) {
      const meta = this.awareness.meta.get(client)
      if (now - heard.at > PRESENCE_KEEP_MS || meta == null || !this.awareness.states.has(client)) {
        this.presenceHeard.delete(client)
        continue
      }
      if (this.init.present?.(heard.origin) === false) continue
      // on y-protocols' own clock, which it compares lastUpdated with
      meta.lastUpdated = getUnixTime()
    }
  }

  /** The document `name` of this room, created (and loaded from storage) on first use. */
  doc(name: string): Y.Doc {
    return this.open(name).doc
  }

  /** Resolves once `name` is loaded from local storage. */
  async ready(name: string): Promise<Y.Doc> {
    const state = this.open(name)
    await state.ready
    return state.doc
  }

  documents(): string[] {
    return [...this.docs.keys()]
  }

  peers(): string[] {
    return [...this.links.keys()]
  }

  private open(name: string): DocState {
    const known = this.docs.get(name)
    if (known != null) return known
    if (!isDocName(name)) throw new SyncError('MALFORMED', `"${name}" is not a document name`)
    if (this.docs.size >= this.maxDocs) {
      throw new SyncError('DOC_LIMIT', `a room holds at most ${this.maxDocs} documents`)
    }
    const doc = new Y.Doc()
    const state: DocState = {
      name,
      doc,
      loading: true,
      ready: (this.init.load?.(name, doc) ?? Promise.resolve()).then(() => {
        state.loading = false
        // what storage held may include edits no peer has yet (made here offline, or never confirmed)
        for (const client of Y.decodeStateVector(Y.encodeStateVector(doc)).keys()) state.own.add(client)
        // trade state vectors with every linked peer: each sends the other what it lacks (stored edits included)
        for (const link of this.links.values()) this.sendVector(state, link, WANT_UPDATE | WANT_VECTOR)
      }),
      vectors: new Map(),
      own: new Set([doc.clientID]),
      chain: Promise.resolve(),
      signing: 0,
      changedAt: 0,
      confirmedAt: 0,
      confirmTurn: 0
    }
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      // what loads from storage is not pushed: the state vector trade above carries it
      if (origin !== REMOTE && !state.loading && !this.destroyed) this.local(state, update)
    })
    this.docs.set(name, state)
    this.safeDispatchEvent('doc', { detail: { name, doc } })
    return state
  }

  /**
   * Changes made here (or loaded from this device's storage) that no peer has confirmed holding, in Yjs clock
   * units, summed over documents. Other members' changes are theirs to confirm.
   */
  unconfirmed(): number {
    let total = 0
    for (const state of this.docs.values()) total += this.unconfirmedIn(state)
    return total
  }

  private unconfirmedIn(state: DocState): number {
    let missing = 0
    for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(state.doc))) {
      if (!state.own.has(client)) continue
      let best = 0
      for (const vector of state.vectors.values()) best = Math.max(best, vector.get(client) ?? 0)
      missing += Math.max(0, clock - best)
    }
    return missing
  }

  /** A new link: both sides send their state vectors and get back what they lack. */
  attach(link: Link): void {
    this.links.set(link.peer, link)
    for (const state of this.docs.values()) {
      void state.ready.then(() => {
        if (this.links.get(link.peer) === link) this.sendVector(state, link, WANT_UPDATE)
      })
    }
    const states = [...this.awareness.getStates().keys()]
    if (states.length > 0) {
      link.send({ t: 'a', o: this.init.self, b: encodeAwarenessUpdate(this.awareness, states) })
    }
    this.safeDispatchEvent('status')
  }

  /** A link went; catch-ups from it fail, and presence learned from that device goes with it. */
  detach(peer: string): void {
    if (!this.links.delete(peer)) return
    for (const [key, transfer] of this.transfers) {
      if (!key.startsWith(`${peer}\n`)) continue
      this.transfers.delete(key)
      this.failTransfer(peer, key, transfer, 'the link closed')
    }
    const clients = this.clientsOf.get(peer)
    if (clients != null) {
      removeAwarenessStates(this.awareness, [...clients], REMOTE)
      this.clientsOf.delete(peer)
    }
    this.safeDispatchEvent('status')
  }

  /** Anti-entropy: sends every state vector on every link; fails catch-ups that stalled. */
  tick(): void {
    for (const [key, transfer] of this.transfers) {
      if (this.now() - transfer.touched < this.catchUpTimeoutMs) continue
      this.transfers.delete(key)
      this.failTransfer(key.split('\n')[0] ?? '', key, transfer, 'no chunk for too long')
    }
    for (const state of this.docs.values()) {
      for (const link of this.links.values()) this.sendVector(state, link, WANT_UPDATE)
    }
  }

  /**
   * Asks a linked peer for its state vector, so unconfirmed local changes get confirmed (or pulled). One peer holding
   * them is enough, so one link is asked a round, in turn. While this device is still editing, its pushes are in
   * flight and a peer's vector would miss them: the question waits for a pause of `CONFIRM_QUIET_MS`, or at most
   * `CONFIRM_AT_LEAST_MS`.
   */
  confirm(): void {
    const links = [...this.links.values()]
    if (links.length === 0) return
    const now = this.now()
    for (const state of this.docs.values()) {
      this.pullGap(state, links, now)
      if (now - state.changedAt < CONFIRM_QUIET_MS && now - state.confirmedAt < CONFIRM_AT_LEAST_MS) continue
      if (this.unconfirmedIn(state) === 0) continue
      state.confirmedAt = now
      const link = links[state.confirmTurn++ % links.length] as Link
      this.sendVector(state, link, WANT_VECTOR)
    }
  }

  /**
   * A pushed update that Yjs keeps pending for more than `GAP_WAIT_MS` means an earlier one never came (a link
   * dropped it, or a broadcast tree was out of date): every link is asked for what this device lacks, once a round.
   */
  private pullGap(state: DocState, links: Link[], now: number): void {
    if (state.gapSince == null || now - state.gapSince < GAP_WAIT_MS) return
    if (!hasGap(state.doc)) {
      state.gapSince = undefined
      return
    }
    state.gapSince = now
    for (const link of links) this.sendVector(state, link, WANT_UPDATE)
  }

  destroy(): void {
    this.destroyed = true
    for (const peer of [...this.links.keys()]) this.detach(peer)
    this.awareness.destroy()
    for (const state of this.docs.values()) state.doc.destroy()
    this.docs.clear()
  }

  /**
   * Handles one frame from `peer` (already opened and authenticated as a member by the transport). Resolves when
   * applied; rejects with `SyncError` for a frame that breaks the rules — the transport decides whether to drop
   * the link. Frames of one link must be handed in one at a time, in order.
   */
  async receive(peer: string, frame: Frame): Promise<void> {
    if (frame.t === 'a') {
      this.receiveAwareness(peer, frame)
      return
    }
    let state = this.docs.get(frame.d)
    if (state == null) {
      state = this.open(frame.d)
    }
    if (state.loading) await state.ready
    if (this.destroyed) return
    if (frame.t === 'sv') this.receiveVector(state, peer, frame)
    else if (frame.t === 's2') this.receiveChunk(state, peer, frame)
    else await this.receiveUpdate(state, peer, frame)
  }

  private sendVector(state: DocState, link: Link, q: number): void {
    link.send({ t: 'sv', d: state.name, v: Y.encodeStateVector(state.doc), q })
  }

  private receiveVector(state: DocState, peer: string, frame: Frame & { t: 'sv' }): void {
    let vector: Map<number, number>
    try {
      vector = Y.decodeStateVector(frame.v)
    } catch (err: unknown) {
      throw new SyncError('MALFORMED', 'a state vector that does not decode', { cause: err })
    }
    const before = this.unconfirmedIn(state)
    state.vectors.set(peer, vector)
    if (before > 0 && this.unconfirmedIn(state) !== before) this.safeDispatchEvent('status')
    const link = this.links.get(peer)
    if (link == null) return
    if ((frame.q & WANT_UPDATE) !== 0) this.sendCatchUp(state, link, frame.v)
    if ((frame.q & WANT_VECTOR) !== 0) this.sendVector(state, link, WANT_UPDATE)
  }

  /** What `link` lacks of `state`, cut into chunks (one chunk, possibly empty, for an up-to-date peer). */
  private sendCatchUp(state: DocState, link: Link, vector: Uint8Array): void {
    const update = Y.encodeStateAsUpdate(state.doc, vector)
    const x = this.nextTransfer++
    for (let o = 0; o === 0 || o < update.byteLength; o += CHUNK_BYTES) {
      link.send({
        t: 's2',
        d: state.name,
        x,
        n: update.byteLength,
        o,
        b: update.subarray(o, o + CHUNK_BYTES)
      })
    }
  }

  private receiveChunk(state: DocState, peer: string, frame: Frame & { t: 's2' }): void {
    if (frame.n > this.maxDocBytes) {
      throw new SyncError('TOO_LARGE', `a catch-up of ${frame.n} bytes is more than ${this.maxDocBytes}`)
    }
    const key = `${peer}\n${state.name}\n${frame.x}`
    let transfer = this.transfers.get(key)
    if (transfer == null) {
      transfer = { total: frame.n, chunks: new Map(), received: 0, touched: this.now() }
      this.transfers.set(key, transfer)
    }
    if (transfer.total !== frame.n) throw new SyncError('MALFORMED', 'a catch-up chunk with another total')
    transfer.touched = this.now()
    if (!transfer.chunks.has(frame.o)) {
      transfer.chunks.set(frame.o, frame.b)
      transfer.received += frame.b.byteLength
    }
    if (transfer.received < transfer.total) {
      if (transfer.total > CHUNK_BYTES) {
        this.safeDispatchEvent('progress', {
          detail: { doc: state.name, peer, received: transfer.received, total: transfer.total }
        })
      }
      return
    }
    this.transfers.delete(key)
    const update = new Uint8Array(transfer.total)
    for (const [offset, chunk] of transfer.chunks) {
      if (offset + chunk.byteLength > transfer.total) throw new SyncError('MALFORMED', 'overlapping chunks')
      update.set(chunk, offset)
    }
    if (transfer.received !== transfer.total) throw new SyncError('MALFORMED', 'overlapping chunks')
    const before = Y.encodeStateVector(state.doc)
    this.apply(state, update)
    this.lastSync = this.now()
    this.safeDispatchEvent('synced', { detail: { doc: state.name, peer, bytes: transfer.total } })
    this.safeDispatchEvent('status')
    if (!equals(before, Y.encodeStateVector(state.doc))) {
      // something new arrived by catch-up rather than by push: let the rest of the mesh pull it from here
      for (const link of this.links.values())
        if (link.peer !== peer) this.sendVector(state, link, WANT_VECTOR)
    }
  }

  private async receiveUpdate(state: DocState, peer: string, frame: Frame & { t: 'u' }): Promise<void> {
    const direct = frame.o === peer
    if (frame.s.byteLength === 0) {
      // unsigned: only its author sends it, over the link that proves who it is, and it goes no further (nobody
      // could check a copy); a repeat is harmless, as Yjs ignores what it holds
      this.checkWriter(frame.o)
      if (!direct) {
        throw new SyncError('BAD_SIGNATURE', `an unsigned update by ${frame.o}, forwarded by ${peer}`)
      }
      this.applyUpdate(state, frame.b)
      return
    }
    const input = updateSigningInput(this.room, state.name, frame.b)
    const id = toString(input.subarray(0, 16), 'base64')
    if (this.seen.has(id)) return
    this.checkWriter(frame.o)
    this.remember(this.seen, id, SEEN_LIMIT)
    // passed on before its signature is checked here: every peer checks it before applying, so a forgery goes
    // nowhere, and the check stays off the path an edit takes through the mesh
    this.forward(peer, frame)
    // straight from its author, a member the transport authenticated, it is applied at once
    if (direct) this.applyUpdate(state, frame.b)
    if (!(await this.init.verify(frame.o, input, frame.s))) {
      // a forged copy must not shadow the real update: forget its id
      this.seen.delete(id)
      throw new SyncError(
        'BAD_SIGNATURE',
        `an update whose signature by ${frame.o} does not verify${direct ? '' : ` (forwarded by ${peer})`}`
      )
    }
    if (!direct && !this.destroyed) this.applyUpdate(state, frame.b)
  }

  private checkWriter(origin: string): void {
    if (!this.init.mayWrite(origin)) {
      throw new SyncError('NOT_MEMBER', `an update by ${origin}, who may not write to the room`)
    }
  }

  private applyUpdate(state: DocState, update: Uint8Array): void {
    this.apply(state, update)
    if (!hasGap(state.doc)) state.gapSince = undefined
    else state.gapSince ??= this.now()
    this.lastSync = this.now()
    this.safeDispatchEvent('status')
  }

  private forward(from: string, frame: Frame & { o: string }): void {
    for (const link of this.links.values()) {
      // not back to where it came from or to its author, nor to a peer the author sends to itself
      if (
        link.peer === from ||
        link.peer === frame.o ||
        this.init.linked?.(frame.o, link.peer, from) === true
      )
        continue
      link.send(frame)
    }
  }

  private apply(state: DocState, update: Uint8Array): void {
    try {
      Y.applyUpdate(state.doc, update, REMOTE)
    } catch (err: unknown) {
      throw new SyncError('MALFORMED', `an update Yjs cannot read: ${(err as Error).message}`, { cause: err })
    }
  }

  private receiveAwareness(peer: string, frame: Frame & { t: 'a' }): void {
    if (!this.init.mayWrite(frame.o)) {
      throw new SyncError('NOT_MEMBER', `presence from ${frame.o}, who is not a member`)
    }
    const id = toString(sha256(frame.b), 'base64')
    if (this.seenAwareness.has(id)) return
    this.remember(this.seenAwareness, id, AWARENESS_SEEN_LIMIT)
    const known = this.clientsOf.get(frame.o) ?? new Set<number>()
    this.clientsOf.set(frame.o, known)
    const now = this.now()
    const listener = (change: { added: number[]; updated: number[]; removed: number[] }): void => {
      for (const client of [...change.added, ...change.updated]) {
        if (client === this.awareness.clientID) continue
        known.add(client)
        this.presenceHeard.set(client, { origin: frame.o, at: now })
      }
      for (const client of change.removed) this.presenceHeard.delete(client)
    }
    this.awareness.on('update', listener)
    try {
      applyAwarenessUpdate(this.awareness, frame.b, REMOTE)
    } catch (err: unknown) {
      throw new SyncError('MALFORMED', 'an awareness update that does not decode', { cause: err })
    } finally {
      this.awareness.off('update', listener)
    }
    this.forward(peer, frame)
  }

  /**
   * A local edit: pushed to every link (or, if too large to push, offered for pulling). It is signed first unless
   * every device that may get it is linked here (`direct`), in which case it goes out unsigned at once — behind
   * any signed push still waiting, so pushes keep their order. The 'status' event (a pending change) follows the
   * sends, so its listeners do not delay the edit (about a tenth of a millisecond of the author's time per edit in
   * the bench's profile).
   */
  private local(state: DocState, update: Uint8Array): void {
    state.changedAt = this.now()
    if (update.byteLength > MAX_UPDATE_BYTES) {
      for (const link of this.links.values()) this.sendVector(state, link, WANT_VECTOR)
      this.safeDispatchEvent('status')
      return
    }
    const push = (s: Uint8Array): void => {
      const frame: Frame = { t: 'u', d: state.name, o: this.init.self, s, b: update }
      for (const link of this.links.values()) link.send(frame)
    }
    if (state.signing === 0 && this.init.direct?.() === true) {
      push(UNSIGNED)
      this.safeDispatchEvent('status')
      return
    }
    const input = updateSigningInput(this.room, state.name, update)
    // a copy forwarded back here is dropped by its id
    this.remember(this.seen, toString(input.subarray(0, 16), 'base64'), SEEN_LIMIT)
    state.signing++
    state.chain = state.chain
      .then(async () => {
        push(await this.init.sign(input))
      })
      .catch(() => {
        // not signed: anti-entropy carries the change instead
      })
      .finally(() => {
        state.signing--
        if (!this.destroyed) this.safeDispatchEvent('status')
      })
  }

  private failTransfer(peer: string, key: string, transfer: Transfer, why: string): void {
    const doc = key.split('\n')[1]
    this.safeDispatchEvent('rejected', {
      detail: {
        peer,
        error: new SyncError(
          'CATCH_UP_FAILED',
          `the catch-up of "${doc}" from ${peer} stopped at ${transfer.received} of ${transfer.total} bytes: ${why}`
        )
      }
    })
  }

  private remember(set: Set<string>, id: string, limit: number): void {
    set.add(id)
    if (set.size > limit) {
      // forget the oldest half: a duplicate older than that is harmless (Yjs ignores what it has)
      let drop = limit / 2
      for (const old of set) {
        if (drop-- <= 0) break
        set.delete(old)
      }
    }
  }
}
