import { noise } from '@chainsafe/libp2p-noise'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { createLibp2p } from 'libp2p'
import {
  DEFAULT_APP_ID,
  DEFAULT_DIAL_ATTEMPTS,
  DEFAULT_DIAL_ATTEMPT_MAX_TIMEOUT_MS,
  DEFAULT_DIAL_ATTEMPT_MIN_TIMEOUT_MS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_INBOUND_CONNECTIONS_PER_SECOND,
  DEFAULT_LIVENESS_INTERVAL_MS,
  DEFAULT_LIVENESS_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_RELAY_RESERVE_TIMEOUT_MS,
  DEFAULT_RELAY_RETRY_MAX_MS,
  DEFAULT_RELAY_RETRY_MIN_MS,
  DEFAULT_SERVE_RELAY_DATA_LIMIT,
  DEFAULT_SERVE_RELAY_DURATION_MS,
  DEFAULT_SERVE_RELAY_RESERVATIONS,
  DHT_DATASTORE_PREFIX,
  DHT_PROTOCOL,
  PRIVATE_KEY_DATASTORE_KEY,
  PROTOCOL_PREFIX
} from './constants.ts'
import { dhtRecordRules, mergingDatastore } from './dht-records.ts'
import { closeDuplicateConnections } from './duplicates.ts'
import { InvalidParametersError } from './errors.ts'
import { liveness } from './liveness.ts'
import { assertName } from './protocol.ts'
import { relayManager } from './relays.ts'
import { createTransports } from './transports.ts'
import { coalesceOnFirstWebRTCConnection } from './webrtc-frames.ts'
import type { KithPeer, KithPeerInit, ServeRelayInit } from './index.ts'
import type { ConnectionGater, PrivateKey, ServiceMap } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** Resolves every default once and checks every field once. */
function resolveInit(
  init: Omit<KithPeerInit, 'services'>
): Required<
  Pick<
    KithPeerInit,
    | 'appId'
    | 'relays'
    | 'iceServers'
    | 'dhtServer'
    | 'allowPrivateAddresses'
    | 'livenessIntervalMs'
    | 'livenessTimeoutMs'
    | 'dialAttempts'
    | 'dialAttemptMinTimeoutMs'
    | 'dialAttemptMaxTimeoutMs'
    | 'dialTimeoutMs'
    | 'relayRetryMinMs'
    | 'relayRetryMaxMs'
    | 'relayReserveTimeoutMs'
    | 'maxConnections'
  >
> {
  const resolved = {
    appId: init.appId ?? DEFAULT_APP_ID,
    relays: init.relays ?? [],
    iceServers: init.iceServers ?? [],
    dhtServer: init.dhtServer ?? false,
    allowPrivateAddresses: init.allowPrivateAddresses ?? false,
    livenessIntervalMs: init.livenessIntervalMs ?? DEFAULT_LIVENESS_INTERVAL_MS,
    livenessTimeoutMs: init.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS,
    dialAttempts: init.dialAttempts ?? DEFAULT_DIAL_ATTEMPTS,
    dialAttemptMinTimeoutMs: init.dialAttemptMinTimeoutMs ?? DEFAULT_DIAL_ATTEMPT_MIN_TIMEOUT_MS,
    dialAttemptMaxTimeoutMs: init.dialAttemptMaxTimeoutMs ?? DEFAULT_DIAL_ATTEMPT_MAX_TIMEOUT_MS,
    dialTimeoutMs: init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    relayRetryMinMs: init.relayRetryMinMs ?? DEFAULT_RELAY_RETRY_MIN_MS,
    relayRetryMaxMs: init.relayRetryMaxMs ?? DEFAULT_RELAY_RETRY_MAX_MS,
    relayReserveTimeoutMs: init.relayReserveTimeoutMs ?? DEFAULT_RELAY_RESERVE_TIMEOUT_MS,
    maxConnections: init.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  }
  assertName('appId', resolved.appId)
  if (!Array.isArray(resolved.relays) || resolved.relays.some((r) => typeof r !== 'string')) {
    throw new InvalidParametersError('relays must be an array of multiaddr strings')
  }
  if (!Array.isArray(resolved.iceServers)) {
    throw new InvalidParametersError('iceServers must be an array of RTCIceServer objects')
  }
  for (const key of [
    'livenessIntervalMs',
    'livenessTimeoutMs',
    'dialAttempts',
    'dialAttemptMinTimeoutMs',
    'dialAttemptMaxTimeoutMs',
    'dialTimeoutMs',
    'relayRetryMinMs',
    'relayRetryMaxMs',
    'relayReserveTimeoutMs',
    'maxConnections'
  ] as const) {
    const value = resolved[key]
    if (!Number.isInteger(value) || value <= 0) {
      throw new InvalidParametersError(`${key} must be a positive integer, got ${String(value)}`)
    }
  }
  if (resolved.dialAttemptMaxTimeoutMs < resolved.dialAttemptMinTimeoutMs) {
    throw new InvalidParametersError(
      'dialAttemptMaxTimeoutMs must not be smaller than dialAttemptMinTimeoutMs'
    )
  }
  if (resolved.relayRetryMaxMs < resolved.relayRetryMinMs) {
    throw new InvalidParametersError('relayRetryMaxMs must not be smaller than relayRetryMinMs')
  }
  return resolved
}

/** The relay server for `serveRelay`, or nothing; throws when the gater cannot say who may use it. */
function relayServerFor(
  serve: boolean | ServeRelayInit | undefined,
  gater: ConnectionGater | undefined
): ReturnType<typeof circuitRelayServer> | undefined {
  if (serve == null || serve === false) return undefined
  if (gater?.denyInboundRelayReservation == null || gater.denyOutboundRelayedConnection == null) {
    throw new InvalidParametersError(
      'serveRelay needs a connectionGater with denyInboundRelayReservation and denyOutboundRelayedConnection ' +
        '(e.g. @kith/trust RoomGater), or any peer could relay through this one'
    )
  }
  const init = serve === true ? {} : serve
  const limits = {
    maxReservations: init.maxReservations ?? DEFAULT_SERVE_RELAY_RESERVATIONS,
    dataLimit: init.dataLimit ?? DEFAULT_SERVE_RELAY_DATA_LIMIT,
    durationLimitMs: init.durationLimitMs ?? DEFAULT_SERVE_RELAY_DURATION_MS
  }
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new InvalidParametersError(`serveRelay.${key} must be a positive integer, got ${String(value)}`)
    }
  }
  return circuitRelayServer({
    reservations: {
      maxReservations: limits.maxReservations,
      applyDefaultLimit: true,
      defaultDataLimit: BigInt(limits.dataLimit),
      defaultDurationLimit: limits.durationLimitMs
    }
  })
}

/** The key stored in `datastore`, or a new Ed25519 key stored there for next time. */
export async function loadOrCreatePrivateKey(datastore: Datastore): Promise<PrivateKey> {
  const key = new Key(PRIVATE_KEY_DATASTORE_KEY)
  if (await datastore.has(key)) {
    return privateKeyFromProtobuf(await datastore.get(key))
  }
  const privateKey = await generateKeyPair('Ed25519')
  await datastore.put(key, privateKeyToProtobuf(privateKey))
  return privateKey
}

/**
 * Create a Kith peer: a libp2p node with WebRTC, relays, the Kith DHT, liveness checks and reliable dials.
 * Throws `InvalidParametersError` for a bad init field.
 */
export async function createKithPeer<S extends ServiceMap = Record<string, unknown>>(
  init: KithPeerInit<S> = {}
): Promise<KithPeer<S>> {
  const config = resolveInit(init)
  const relayServer = relayServerFor(init.serveRelay, init.connectionGater)
  const namespaces = init.dhtNamespaces ?? {}
  const datastore =
    Object.keys(namespaces).length > 0
      ? mergingDatastore(init.datastore ?? new MemoryDatastore(), namespaces)
      : init.datastore
  const privateKey =
    init.privateKey ?? (datastore != null ? await loadOrCreatePrivateKey(datastore) : undefined)
  const { transports, listen } = createTransports({
    iceServers: config.iceServers,
    listen: init.listen,
    reserveTimeoutMs: config.relayReserveTimeoutMs,
    dial: {
      attempts: config.dialAttempts,
      attemptMinTimeoutMs: config.dialAttemptMinTimeoutMs,
      attemptMaxTimeoutMs: config.dialAttemptMaxTimeoutMs
    }
  })

  const node = await createLibp2p({
    start: init.start ?? true,
    privateKey,
    datastore,
    logger: init.logger,
    addresses: { listen, announce: init.announce ?? [] },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: {
      ...(config.allowPrivateAddresses ? { denyDialMultiaddr: () => false } : {}),
      ...init.connectionGater
    },
    connectionManager: {
      maxConnections: config.maxConnections,
      dialTimeout: config.dialTimeoutMs,
      // libp2p caps each address at 6 s by default, which would cut the WebRTC retries short
      addressDialTimeout: config.dialTimeoutMs,
      inboundConnectionThreshold: DEFAULT_INBOUND_CONNECTIONS_PER_SECOND
    },
    // replaced by the liveness service: one long-lived stream per connection instead of a stream per ping
    connectionMonitor: { enabled: false },
    services: {
      identify: identify({ protocolPrefix: PROTOCOL_PREFIX }),
      // the timeout follows the pings' recent round trips, from livenessTimeoutMs up to LIVENESS_TIMEOUT_STRETCH
      // times that: on a saturated CPU (24 browsers on two cores) a fixed 3 s closed healthy connections, and
      // redialling them loaded it further (64 connections opened and 65 closed in 5 s; 20 and 13 at 15 s)
      liveness: liveness({ intervalMs: config.livenessIntervalMs, timeoutMs: config.livenessTimeoutMs }),
      // answers pings for anyone, and watches peers without the liveness protocol; pings may overlap when one is
      // slow (the timeout is longer than the interval), and libp2p's default of one stream would fail the next
      ping: ping({ protocolPrefix: PROTOCOL_PREFIX, maxOutboundStreams: 4, maxInboundStreams: 4 }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: !config.dhtServer,
        peerInfoMapper: config.allowPrivateAddresses ? passthroughMapper : removePrivateAddressesMapper,
        logPrefix: 'kith:dht',
        datastorePrefix: DHT_DATASTORE_PREFIX,
        metricsPrefix: 'kith_dht',
        ...dhtRecordRules(namespaces)
      }),
      relays: relayManager({
        relays: config.relays,
        retryMinMs: config.relayRetryMinMs,
        retryMaxMs: config.relayRetryMaxMs,
        reserveTimeoutMs: config.relayReserveTimeoutMs
      }),
      ...(relayServer != null ? { relayServer } : {}),
      ...init.services
    }
  })
  coalesceOnFirstWebRTCConnection(node, node.logger.forComponent('kith:peer:webrtc'))
  closeDuplicateConnections(node, node.logger.forComponent('kith:peer:duplicates'))
  return node as unknown as KithPeer<S>
}
