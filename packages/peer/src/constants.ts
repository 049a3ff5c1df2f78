/** The private DHT protocol: Kith peers never join the public IPFS DHT. */
export const DHT_PROTOCOL = '/kith/kad/1.0.0'

/** Where the DHT keeps its records and provider lists in a peer's datastore. */
export const DHT_DATASTORE_PREFIX = '/kith/dht'

/** Prefix for libp2p's own protocols (ping, identify) so they read `/kith/ping/1.0.0`. */
export const PROTOCOL_PREFIX = 'kith'

export const DEFAULT_APP_ID = 'kith'

/**
 * How often each end of every open connection pings the other to notice a peer that went away. When pings were a
 * stream each (libp2p's monitor, before the liveness stream), a WebRTC data channel opened, negotiated and closed:
 * in a room of 8 browsers, 2 s pings made 9.3 n data-channel messages per edit in all and an edit latency p95 of
 * 136 ms; 10 s, 5.7 n and 74 ms.
 */
export const DEFAULT_LIVENESS_INTERVAL_MS = 10_000

/** Pings and pongs on one long-lived stream per connection, opened by the connection's dialer (PROTOCOL.md). */
export const LIVENESS_PROTOCOL = '/kith/liveness/1.0.0'

/** libp2p's ping protocol under Kith's prefix: answered for anyone, and used to watch peers without the above. */
export const PING_PROTOCOL = '/kith/ping/1.0.0'

/** A remote pinging faster than this on the liveness stream has it reset (its pongs would cost this end). */
export const MAX_LIVENESS_PINGS_PER_SECOND = 10

/**
 * A ping slower than this counts as a failure and the connection is closed. While recent pings are slow (a busy
 * machine), the timeout grows with their round trips, up to `LIVENESS_TIMEOUT_STRETCH` times this.
 */
export const DEFAULT_LIVENESS_TIMEOUT_MS = 3_000
export const LIVENESS_TIMEOUT_STRETCH = 5

/**
 * A ping's timer that fires this much later than it was set for means this end's thread was held up: the pong may be
 * sitting unread behind the timer, and the remote did not get the whole wait to answer. Each ping is spared once for
 * that, or when the remote sent a liveness frame since it went out (it is alive; its pong is on the way).
 */
export const LIVENESS_STALL_MS = 1_000

/**
 * First wait before redialling a relay that dropped; doubles up to the maximum (each wait jittered by ±20 %). A
 * retry costs one failed dial, and a peer that meets another holding a reservation on the relay retries at once.
 */
export const DEFAULT_RELAY_RETRY_MIN_MS = 500
export const DEFAULT_RELAY_RETRY_MAX_MS = 10_000

/** How long one attempt to reach a relay and reserve a slot on it may take. */
export const DEFAULT_RELAY_RESERVE_TIMEOUT_MS = 10_000

/**
 * Reservations circuit-relay-v2 makes at once. Its default (1) left every relay after the first unreserved for as
 * long as the peer ran (measured with two relays: the second stayed "connecting"), so a peer configured with
 * several relays was reachable through one only.
 */
export const RESERVATION_CONCURRENCY = 8

/** A whole dial, across every retry. */
export const DEFAULT_DIAL_TIMEOUT_MS = 20_000

/** Bounds of one WebRTC attempt inside a dial; a stalled negotiation is retried after it (see reliable-dial.ts). */
export const DEFAULT_DIAL_ATTEMPT_MIN_TIMEOUT_MS = 1_000
export const DEFAULT_DIAL_ATTEMPT_MAX_TIMEOUT_MS = 8_000

export const DEFAULT_DIAL_ATTEMPTS = 4

export const DEFAULT_MAX_CONNECTIONS = 300

/**
 * Inbound connections accepted per second from one host. libp2p's default (5) counts every relayed circuit as
 * coming from the relay's address, so a browser refused signaling circuits as soon as a few peers dialled it at once.
 */
export const DEFAULT_INBOUND_CONNECTIONS_PER_SECOND = 100

/** Where a persisted private key lives in the peer's datastore. */
export const PRIVATE_KEY_DATASTORE_KEY = '/kith/peer/private-key'

/** `appId` and protocol names: lowercase letters, digits and dashes. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/

/** `major.minor.patch` */
export const SEMVER_PATTERN = /^\d{1,4}\.\d{1,4}\.\d{1,4}$/

/** `serveRelay`: peers holding a reservation at once (a room's mesh gives each device about `meshDegree` links). */
export const DEFAULT_SERVE_RELAY_RESERVATIONS = 32
/** `serveRelay`: bytes one relayed connection may carry, enough for a WebRTC negotiation and identify. */
export const DEFAULT_SERVE_RELAY_DATA_LIMIT = 128 * 1024
/** `serveRelay`: how long one relayed connection may stay open. */
export const DEFAULT_SERVE_RELAY_DURATION_MS = 120_000
