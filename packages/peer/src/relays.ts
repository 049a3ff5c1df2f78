import { NotFoundError, peerRoutingSymbol, serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { IP_OR_DOMAIN } from '@multiformats/multiaddr-matcher'
import { TypedEventEmitter } from 'main-event'
import {
  DEFAULT_RELAY_RESERVE_TIMEOUT_MS,
  DEFAULT_RELAY_RETRY_MAX_MS,
  DEFAULT_RELAY_RETRY_MIN_MS,
  LIVENESS_PROTOCOL
} from './constants.ts'
import { InvalidParametersError } from './errors.ts'

/** How many times a circuit still carrying a stream is looked at again before it is left to the relay's limits. */
const CIRCUIT_CLOSE_CHECKS = 10

const CIRCUIT_CLOSE_GRACE_MS = 1_000
import type {
  ComponentLogger,
  Connection,
  IdentifyResult,
  Libp2pEvents,
  Logger,
  PeerId,
  PeerInfo,
  PeerRouting,
  Startable,
  TypedEventTarget
} from '@libp2p/interface'
import type { AddressManager, ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

export const RelayState = {
  /** Dialling the relay or asking it for a reservation. */
  Connecting: 'connecting',
  /** A reservation is held: this peer can be reached through the relay. */
  Reserved: 'reserved',
  /** The last attempt failed; the next one starts at `nextAttemptAt`. */
  Waiting: 'waiting',
  Stopped: 'stopped'
} as const
export type RelayState = (typeof RelayState)[keyof typeof RelayState]

export interface RelayStatus {
  /** The relay's peer id, as a string. */
  peerId: string
  /** The address it is dialled on. */
  addr: string
  state: RelayState
  /** Failed attempts since the last reservation. */
  failures: number
  /** Why the last attempt failed. */
  lastError?: string
  /** Epoch ms of the next attempt, while `state` is `waiting`. */
  nextAttemptAt?: number
}

export interface RelayManagerEvents {
  /** A relay's state changed. */
  'relay:status': CustomEvent<RelayStatus>
  /** The fallback peers holding a reservation for this peer changed (`getFallbackRelays()`, as the detail). */
  'relay:fallbacks': CustomEvent<string[]>
}

export interface RelayManagerInit {
  /** Relay multiaddrs, each ending in `/p2p/<relay peer id>`. */
  relays?: string[]
  /** @default 500 */
  retryMinMs?: number
  /** @default 10_000 */
  retryMaxMs?: number
  /** One attempt at dialling a relay and reserving a slot. @default 10_000 */
  reserveTimeoutMs?: number
}

export interface RelayManagerComponents {
  connectionManager: ConnectionManager
  transportManager: TransportManager
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** Keeps a reservation on every configured relay, redialling with backoff for as long as the peer runs. */
export interface RelayManager extends TypedEventTarget<RelayManagerEvents> {
  /** The state of every configured relay. */
  getRelays(): RelayStatus[]

  /**
   * Addresses that reach `peerId` through the relays this peer holds a reservation on
   * (`<relay>/p2p-circuit/webrtc/p2p/<peer>`): a peer reserved on the same relay answers there. The manager is also
   * a libp2p peer router returning these, so `peer.dial(peerId)` works with nothing but a peer id.
   */
  addressesFor(peerId: PeerId | string): Multiaddr[]

  /**
   * Peers to fall back on as relays, e.g. the other devices of a room (`@kith/trust`'s `Rooms` sets them). While no
   * configured relay holds a reservation for this peer, it reserves a slot on each of these it has a direct
   * connection to, so a peer linked to one of them can signal a new direct connection to this one through it
   * (`/p2p/<fallback>/p2p-circuit/webrtc/p2p/<this peer>`). They must run a relay server (`serveRelay`). Replaces
   * the previous set; a reservation lives as long as the connection it was made on.
   */
  setFallbackRelays(peers: PeerId[]): void

  /** The fallback peers that hold a reservation for this peer now, as strings. */
  getFallbackRelays(): string[]
}

/** A fallback peer that refused a reservation (an older app, or it does not know this device yet) is asked again after this long. */
const FALLBACK_RETRY_MS = 10_000

interface FallbackAttempt {
  /** The connection the reservation was asked for on: it lives as long as that connection. */
  connection: string
  at: number
  /** Whether it was granted; undefined while the request is in flight. */
  granted?: boolean
}

interface Relay {
  addr: Multiaddr
  peerId: string
  status: RelayStatus
  /** Resolves the current wait, early, when something changed. */
  wake?: () => void
  /** A peer met since the last attempt holds a reservation on this relay: it is up, so a wait ends now. */
  seenUp: boolean
}

class DefaultRelayManager extends TypedEventEmitter<RelayManagerEvents> implements RelayManager, Startable {
  readonly [Symbol.toStringTag] = '@kith/relay-manager'
  readonly [serviceCapabilities] = ['@kith/relay-manager']
  readonly [serviceDependencies] = ['@libp2p/circuit-relay-v2-transport']

  private readonly components: RelayManagerComponents
  private readonly log: Logger
  private readonly relays: Relay[]
  private readonly retryMinMs: number
  private readonly retryMaxMs: number
  private readonly reserveTimeoutMs: number
  private controller?: AbortController
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private fallbacks = new Map<string, PeerId>()
  private readonly fallbackAttempts = new Map<string, FallbackAttempt>()

  constructor(components: RelayManagerComponents, init: RelayManagerInit) {
    super()
    this.components = components
    this.log = components.logger.forComponent('kith:peer:relays')
    this.retryMinMs = init.retryMinMs ?? DEFAULT_RELAY_RETRY_MIN_MS
    this.retryMaxMs = init.retryMaxMs ?? DEFAULT_RELAY_RETRY_MAX_MS
    this.reserveTimeoutMs = init.reserveTimeoutMs ?? DEFAULT_RELAY_RESERVE_TIMEOUT_MS
    this.relays = (init.relays ?? []).map((str) => relayFromString(str))
    onlyDialableObservedAddresses(components.addressManager)
  }

  getRelays(): RelayStatus[] {
    return this.relays.map((relay) => ({ ...relay.status }))
  }

  addressesFor(peerId: PeerId | string): Multiaddr[] {
    const target = peerId.toString()
    return this.components.addressManager
      .getAddresses()
      .filter((ma) => {
        const names = ma.getComponents().map((c) => c.name)
        return names.at(-2) === 'p2p-circuit' || (names.at(-3) === 'p2p-circuit' && names.at(-2) === 'webrtc')
      })
      .map((ma) => {
        const circuit = ma.toString().split('/p2p-circuit')[0] ?? ''
        return multiaddr(`${circuit}/p2p-circuit/webrtc/p2p/${target}`)
      })
      .filter((ma, index, all) => all.findIndex((other) => other.equals(ma)) === index)
  }

  setFallbackRelays(peers: PeerId[]): void {
    this.fallbacks = new Map(peers.map((peer) => [peer.toString(), peer]))
    for (const id of this.fallbackAttempts.keys()) {
      if (!this.fallbacks.has(id)) this.fallbackAttempts.delete(id)
    }
    this.reserveOnFallbacks()
  }

  getFallbackRelays(): string[] {
    return [...this.fallbackAttempts]
      .filter(
        ([id, attempt]) => attempt.granted === true && this.directConnection(id)?.id === attempt.connection
      )
      .map(([id]) => id)
  }

  /** While no configured relay holds a reservation, asks each directly connected fallback peer for one. */
  private reserveOnFallbacks(): void {
    if (this.controller == null || this.controller.signal.aborted) return
    if (this.relays.some((relay) => relay.status.state === RelayState.Reserved)) return
    const now = Date.now()
    for (const [id, peer] of this.fallbacks) {
      if (this.relays.some((relay) => relay.peerId === id)) continue
      const direct = this.directConnection(id)
      if (direct == null) continue
      const last = this.fallbackAttempts.get(id)
      if (last?.connection === direct.id) {
        if (last.granted !== false || now - last.at < FALLBACK_RETRY_MS) continue
      }
      const attempt: FallbackAttempt = { connection: direct.id, at: now }
      this.fallbackAttempts.set(id, attempt)
      this.components.transportManager.listen([multiaddr(`/p2p/${peer.toString()}/p2p-circuit`)]).then(
        () => {
          attempt.granted = true
          this.log('reserved on fallback relay %p', peer)
          this.safeDispatchEvent('relay:fallbacks', { detail: this.getFallbackRelays() })
        },
        (err: unknown) => {
          attempt.granted = false
          this.log('fallback relay %p refused a reservation - %e', peer, err)
        }
      )
    }
  }

  private directConnection(id: string): Connection | undefined {
    const peer = this.fallbacks.get(id)
    if (peer == null) return undefined
    return this.components.connectionManager
      .getConnections(peer)
      .find((connection) => connection.limits == null && connection.status === 'open')
  }

  get [peerRoutingSymbol](): PeerRouting {
    return {
      findPeer: (peerId: PeerId): Promise<PeerInfo> => {
        const multiaddrs = this.addressesFor(peerId)
        if (multiaddrs.length === 0) {
          return Promise.reject(new NotFoundError('no relay reservation to reach the peer through'))
        }
        return Promise.resolve({ id: peerId, multiaddrs })
      },
      // the relays know nothing of keys or distances: closest-peer queries are the DHT's
      getClosestPeers: async function* () {}
    }
  }

  start(): void {
    this.controller = new AbortController()
    this.components.events.addEventListener('peer:disconnect', this.onChange)
    this.components.events.addEventListener('self:peer:update', this.onChange)
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
    this.components.events.addEventListener('connection:close', this.onConnectionClose)
    this.components.events.addEventListener('peer:identify', this.onIdentify)
  }

  afterStart(): void {
    const signal = this.controller?.signal
    if (signal == null) return
    for (const relay of this.relays) {
      this.maintain(relay, signal).catch((err: unknown) => {
        this.log.error('relay loop for %s ended - %e', relay.peerId, err)
      })
    }
  }

  stop(): void {
    this.controller?.abort()
    this.components.events.removeEventListener('peer:disconnect', this.onChange)
    this.components.events.removeEventListener('self:peer:update', this.onChange)
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    this.components.events.removeEventListener('connection:close', this.onConnectionClose)
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.fallbackAttempts.clear()
    for (const relay of this.relays) {
      relay.wake?.()
      this.update(relay, { state: RelayState.Stopped, nextAttemptAt: undefined })
    }
  }

  private readonly onChange = (): void => {
    for (const relay of this.relays) relay.wake?.()
  }

  /**
   * A peer just identified listens through a relay this peer is waiting to retry: that relay is up again (it
   * granted the other a reservation), so the backoff ends now rather than up to `retryMaxMs` later.
   */
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    for (const relay of this.relays) {
      if (relay.status.state !== RelayState.Waiting) continue
      const marker = `/p2p/${relay.peerId}/p2p-circuit`
      if (!evt.detail.listenAddrs.some((addr) => addr.toString().includes(marker))) continue
      this.log('%p holds a reservation on relay %s: retrying it now', evt.detail.peerId, relay.peerId)
      relay.seenUp = true
      relay.wake?.()
    }
  }

  /** A reservation on a fallback lives as long as its connection: say when one went with it. */
  private readonly onConnectionClose = (evt: CustomEvent<Connection>): void => {
    const attempt = this.fallbackAttempts.get(evt.detail.remotePeer.toString())
    if (attempt?.granted !== true || attempt.connection !== evt.detail.id) return
    this.safeDispatchEvent('relay:fallbacks', { detail: this.getFallbackRelays() })
  }

  /**
   * Once a direct connection to a peer is up, the relayed circuit that signaled it has done its job: close it when
   * it carries no stream, so relays only ever carry signaling. The grace period lets the other side finish closing
   * its signaling stream first.
   */
  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const direct = evt.detail
    if (direct.limits != null) return
    this.closeSignalingCircuits(direct, CIRCUIT_CLOSE_CHECKS)
    if (this.fallbacks.has(direct.remotePeer.toString())) this.reserveOnFallbacks()
  }

  /**
   * Closes the circuits to `direct`'s peer that are older than it and carry no stream but liveness, after a grace period; a
   * circuit still busy then (a signaling or identify stream finishing) is looked at again, up to `checks` times.
   */
  private closeSignalingCircuits(direct: Connection, checks: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (direct.status !== 'open') return
      let busy = false
      for (const connection of this.components.connectionManager.getConnections(direct.remotePeer)) {
        // only circuits older than the direct link: a newer one may be signaling a fresh connection
        if (connection.limits == null || connection.timeline.open > direct.timeline.open) continue
        // the liveness stream lives as long as the connection: it keeps no circuit in use
        if (connection.streams.some((stream) => stream.protocol !== LIVENESS_PROTOCOL)) {
          busy = true
          continue
        }
        this.log('closing relayed circuit to %p, a direct connection is open', direct.remotePeer)
        connection.close().catch((err: unknown) => {
          connection.abort(err as Error)
        })
      }
      if (busy && checks > 1) this.closeSignalingCircuits(direct, checks - 1)
    }, CIRCUIT_CLOSE_GRACE_MS)
    this.timers.add(timer)
  }

  private hasReservation(relay: Relay): boolean {
    return this.components.addressManager
      .getAddresses()
      .some((ma) => ma.toString().includes(`/p2p/${relay.peerId}/p2p-circuit`))
  }

  private async maintain(relay: Relay, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (this.hasReservation(relay)) {
        this.update(relay, {
          state: RelayState.Reserved,
          failures: 0,
          lastError: undefined,
          nextAttemptAt: undefined
        })
        await this.sleep(relay, signal, Infinity, () => !this.hasReservation(relay))
        continue
      }
      this.update(relay, { state: RelayState.Connecting, nextAttemptAt: undefined })
      try {
        await this.reserve(relay, signal)
        if (!this.hasReservation(relay)) {
          // the listener resolves once it asked; the address can lag by a tick
          await this.sleep(relay, signal, 1_000, () => this.hasReservation(relay))
        }
        if (this.hasReservation(relay)) continue
        throw new InvalidParametersError('relay accepted the dial but granted no reservation')
      } catch (err: unknown) {
        if (signal.aborted) return
        const failures = relay.status.failures + 1
        const delay = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** (failures - 1))
        const jittered = Math.round(delay * (0.8 + Math.random() * 0.4))
        this.log('relay %s failed (%d) - %e; retrying in %d ms', relay.peerId, failures, err, jittered)
        this.update(relay, {
          state: RelayState.Waiting,
          failures,
          lastError: err instanceof Error ? err.message : String(err),
          nextAttemptAt: Date.now() + jittered
        })
        relay.seenUp = false
        await this.sleep(relay, signal, jittered, () => relay.seenUp)
      }
    }
  }

  private async reserve(relay: Relay, signal: AbortSignal): Promise<void> {
    const attempt = AbortSignal.any([signal, AbortSignal.timeout(this.reserveTimeoutMs)])
    // connect first so that a relay that is down costs a failed dial, not a dead listener left behind
    await this.components.connectionManager.openConnection(relay.addr, { signal: attempt })
    await this.components.transportManager.listen([relay.addr.encapsulate('/p2p-circuit')])
  }

  /** Waits `ms`, or until `until()` holds when something changed, or until stopped. */
  private async sleep(relay: Relay, signal: AbortSignal, ms: number, until: () => boolean): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        relay.wake = undefined
        resolve()
      }
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined
      signal.addEventListener('abort', done, { once: true })
      relay.wake = () => {
        if (until()) done()
      }
    })
  }

  private update(relay: Relay, change: Partial<RelayStatus>): void {
    const next = { ...relay.status, ...change }
    const changed =
      next.state !== relay.status.state ||
      next.failures !== relay.status.failures ||
      next.lastError !== relay.status.lastError
    relay.status = next
    if (changed) {
      this.log('relay %s is %s', relay.peerId, next.state)
      this.safeDispatchEvent('relay:status', { detail: { ...next } })
      // the last configured relay may just have gone: the fallbacks take over
      if (next.state !== RelayState.Reserved) this.reserveOnFallbacks()
    }
  }
}

/**
 * circuit-relay-v2 adds the relay connection's remote address to every reservation it gets and confirms each, with
 * `/p2p-circuit`, as an observed address of this peer. On a fallback relay that address is a WebRTC connection's:
 * `/webrtc/p2p/<peer>`, on which libp2p 3's address manager throws (failing the listen although the reservation was
 * made), or `<relay>/p2p-circuit/webrtc/p2p/<peer>`, which would advertise a circuit through a circuit and make the
 * dead relay look reserved. Neither reaches this peer: only an IP or DNS address with one circuit is kept.
 */
function onlyDialableObservedAddresses(manager: AddressManager): void {
  const confirm = manager.confirmObservedAddr.bind(manager)
  const remove = manager.removeObservedAddr.bind(manager)
  const dialable = (addr: Multiaddr): boolean => {
    const names = addr.getComponents().map((c) => c.name)
    return (
      IP_OR_DOMAIN.matches(addr) &&
      !names.includes('webrtc') &&
      names.filter((name) => name === 'p2p-circuit').length <= 1
    )
  }
  manager.confirmObservedAddr = (addr, options) => {
    if (dialable(addr)) confirm(addr, options)
  }
  manager.removeObservedAddr = (addr) => {
    if (dialable(addr)) remove(addr)
  }
}

function relayFromString(str: string): Relay {
  let addr: Multiaddr
  try {
    addr = multiaddr(str)
  } catch (err: unknown) {
    throw new InvalidParametersError(`relay address "${str}" is not a multiaddr: ${String(err)}`)
  }
  const peerId = addr.getComponents().findLast((c) => c.name === 'p2p')?.value
  if (peerId == null) {
    throw new InvalidParametersError(`relay address "${str}" must end in /p2p/<relay peer id>`)
  }
  return {
    addr,
    peerId,
    status: { peerId, addr: str, state: RelayState.Connecting, failures: 0 },
    seenUp: false
  }
}

export function relayManager(
  init: RelayManagerInit = {}
): (components: RelayManagerComponents) => RelayManager {
  return (components) => new DefaultRelayManager(components, init)
}
