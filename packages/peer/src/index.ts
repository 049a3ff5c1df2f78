/**
 * @packageDocumentation
 *
 * `@kith/peer` creates the libp2p node every Kith app runs on, with one API in browsers and Node: WebRTC
 * connections signaled through relays, reservations kept on every configured relay, a private DHT, dials that
 * survive WebRTC's signaling race, and dead peers noticed within seconds.
 *
 * @example
 * ```ts
 * import { createKithPeer, protocolId } from '@kith/peer'
 *
 * const peer = await createKithPeer({ appId: 'notes', relays: ['/dns4/relay.example/tcp/443/wss/p2p/12D3Koo…'] })
 * await peer.handle(protocolId('notes', 'hello', '1.0.0'), (stream) => { … })
 * ```
 */

import type { DhtNamespaces } from './dht-records.ts'
import type { Liveness } from './liveness.ts'
import type { RelayManager } from './relays.ts'
import type { ComponentLogger, ConnectionGater, Libp2p, PrivateKey, ServiceMap } from '@libp2p/interface'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Identify } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { Datastore } from 'interface-datastore'
import type { ServiceFactoryMap } from 'libp2p'

export { createKithPeer, loadOrCreatePrivateKey } from './peer.ts'
export { createPersistentDatastore } from './datastore.ts'
export type { PersistentDatastore } from './datastore.ts'
export { dhtRecordRules, mergingDatastore, namespaceOf } from './dht-records.ts'
export type { DhtNamespace, DhtNamespaces } from './dht-records.ts'
export { protocolId, type ProtocolId } from './protocol.ts'
export { connectionKind, isDirect, ConnectionKind } from './connections.ts'
export { RelayState } from './relays.ts'
export { liveness, LivenessMode, LivenessFrame, LIVENESS_FRAME_BYTES } from './liveness.ts'
export type { Liveness, LivenessInit, LivenessComponents } from './liveness.ts'
export type { RelayManager, RelayManagerEvents, RelayStatus } from './relays.ts'
export {
  DialFailedError,
  DialSupersededError,
  DuplicateConnectionError,
  InvalidParametersError,
  LivenessError
} from './errors.ts'
export { redundantConnections } from './duplicates.ts'
export { directMessages, DIRECT_MAX_BYTES } from './webrtc-frames.ts'
export type { DirectMessages } from './webrtc-frames.ts'
export * from './constants.ts'

/** The services every Kith peer runs. */
export interface KithServices extends ServiceMap {
  identify: Identify
  ping: Ping
  dht: KadDHT
  relays: RelayManager
  /** Watches every connection for a peer that vanished (`livenessIntervalMs`). */
  liveness: Liveness
  /** Present when the peer relays for others (`serveRelay`). */
  relayServer?: CircuitRelayService
}

/** How a peer relays for others (`KithPeerInit.serveRelay`). */
export interface ServeRelayInit {
  /** Peers holding a reservation at once. @default 32 */
  maxReservations?: number
  /**
   * Bytes one relayed connection may carry before it is closed: enough for WebRTC signaling and identify, not for
   * traffic. @default 131_072
   */
  dataLimit?: number
  /** How long one relayed connection may stay open, in ms. @default 120_000 */
  durationLimitMs?: number
}

/** A libp2p node with Kith's services, plus any the app added through `init.services`. */
export type KithPeer<S extends ServiceMap = Record<string, unknown>> = Libp2p<KithServices & S>

export interface KithPeerInit<S extends ServiceMap = Record<string, unknown>> {
  /**
   * Namespaces the app's protocols (`/kith/<appId>/<name>/<semver>`, see {@link protocolId}). Lowercase letters,
   * digits and dashes.
   *
   * @default 'kith'
   */
  appId?: string

  /**
   * Relays to reserve a slot on, each a multiaddr ending in `/p2p/<peer id>`. A browser is reachable only while it
   * holds at least one reservation; each is redialled with backoff when it drops, and existing direct connections
   * stay up when every relay is gone.
   *
   * @default []
   */
  relays?: string[]

  /**
   * STUN and TURN servers for WebRTC. None by default, so no traffic leaves the machines you name: peers on one
   * network connect directly, peers behind NATs need a STUN server, and peers behind symmetric NATs a TURN
   * server, e.g. `[{ urls: 'stun:stun.example.org:3478' }, { urls: 'turn:turn.example.org', username, credential }]`.
   *
   * @default []
   */
  iceServers?: RTCIceServer[]

  /** The libp2p private key (Ed25519); its peer id is the device's id. @default loaded from `datastore`, or new */
  privateKey?: PrivateKey

  /**
   * Where the peer store, the DHT's records and (unless `privateKey` is given) the private key are kept. Pass
   * `await createPersistentDatastore('my-app')` to keep them across reloads.
   *
   * @default an in-memory store
   */
  datastore?: Datastore

  /**
   * Listen addresses. Browsers listen on `/webrtc`; Node peers also on TCP and WebSockets on 127.0.0.1. Relay
   * reservations (`/p2p-circuit`) are added for every entry of `relays`.
   *
   * @default ['/webrtc'] in browsers, ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws', '/webrtc'] in Node
   */
  listen?: string[]

  /** Addresses to announce instead of the listen addresses. @default [] */
  announce?: string[]

  /**
   * Rules for DHT record namespaces (`/<namespace>/…` keys): how a record is validated, which of several is best,
   * and how a server merges a new one with the one it holds. A record in a namespace without rules is refused.
   * `@kith/identity`'s discovery records need `{ [DISCOVERY_NAMESPACE]: discoveryNamespace() }`.
   *
   * @default {}
   */
  dhtNamespaces?: DhtNamespaces

  /** Answer DHT queries for others. Only for peers with dialable, public addresses. @default false */
  dhtServer?: boolean

  /**
   * Let the node dial private and loopback addresses. Browsers refuse to by default; turn this on for a relay on
   * localhost or a LAN.
   *
   * @default false
   */
  allowPrivateAddresses?: boolean

  /**
   * How often each end of a connection pings the other to notice a peer that went away, on one long-lived stream
   * per connection (a peer without that protocol is pinged with a stream per ping, as libp2p does). A shorter
   * interval notices sooner and costs every connection more. @default 10_000
   */
  livenessIntervalMs?: number
  /**
   * A ping that takes longer closes the connection. While recent pings are slow, the timeout follows their round
   * trips, up to five times this. @default 3_000
   */
  livenessTimeoutMs?: number

  /** WebRTC attempts per dial before it fails with `DialFailedError`. @default 4 */
  dialAttempts?: number
  /**
   * Shortest deadline of one WebRTC attempt. An attempt gets five times the usual successful dial time, at least
   * this; a stalled negotiation is abandoned and retried after it, each retry with twice the deadline.
   *
   * @default 1_000
   */
  dialAttemptMinTimeoutMs?: number
  /** Longest deadline of one WebRTC attempt. @default 8_000 */
  dialAttemptMaxTimeoutMs?: number
  /** A whole dial, every attempt included. @default 20_000 */
  dialTimeoutMs?: number

  /** First wait before redialling a dropped relay; it doubles on every failure. @default 500 */
  relayRetryMinMs?: number
  /** Longest wait between attempts to reach a relay. @default 10_000 */
  relayRetryMaxMs?: number
  /** One attempt to dial a relay and get a reservation. @default 10_000 */
  relayReserveTimeoutMs?: number

  /** @default 300 */
  maxConnections?: number

  /**
   * Relay WebRTC signaling for other peers, as a bootstrap relay does: a peer holding a reservation here can be
   * dialled through this one (`/p2p/<this peer>/p2p-circuit/webrtc/p2p/<it>`), which only carries the few KB of
   * the direct connection's negotiation (each relayed connection is capped by `dataLimit` and `durationLimitMs`).
   * Room members do this for each other so that links re-form when the bootstrap relay is gone (see
   * `RelayManager.setFallbackRelays`). Needs a `connectionGater` that decides who may reserve and be relayed
   * (`denyInboundRelayReservation` and `denyOutboundRelayedConnection`, as `@kith/trust`'s `RoomGater` has):
   * without them this throws `InvalidParametersError`, so a browser never becomes an open relay by accident.
   *
   * @default false
   */
  serveRelay?: boolean | ServeRelayInit

  /**
   * Decides which peers may connect, e.g. `@kith/trust`'s `RoomGater` (room members only). Kith's own rule for
   * `allowPrivateAddresses` is kept unless the gater sets `denyDialMultiaddr` itself.
   *
   * @default every peer may connect
   */
  connectionGater?: ConnectionGater

  /** More libp2p services, merged with Kith's. */
  services?: ServiceFactoryMap<S>

  /** Start the node before returning it. @default true */
  start?: boolean

  /** A libp2p logger, e.g. `prefixLogger('alice')` in tests. @default the `debug`-style `@libp2p/logger` */
  logger?: ComponentLogger
}
