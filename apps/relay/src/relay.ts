import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { DISCOVERY_NAMESPACE, discoveryNamespace } from '@kith/identity'
import {
  DHT_DATASTORE_PREFIX,
  DHT_PROTOCOL,
  dhtRecordRules,
  liveness,
  mergingDatastore,
  PROTOCOL_PREFIX
} from '@kith/peer'
import { autoNAT } from '@libp2p/autonat'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { KEEP_ALIVE } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { pino } from 'pino'
import { Gauge, Registry } from 'prom-client'
import { DEFAULT_CONFIG } from './config.ts'
import { AddressInUseError } from './errors.ts'
import { startHttp } from './http.ts'
import { loadOrCreateKey } from './key-file.ts'
import type { RelayConfig } from './config.ts'
import type { DhtNamespaces } from '@kith/peer'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Logger } from 'pino'

export interface RelayInit extends Partial<RelayConfig> {
  /** Use this key instead of the key file (tests, embedding). */
  privateKey?: PrivateKey
  /** A pino logger. @default JSON to stdout at `logLevel` */
  logger?: Logger
  /**
   * DHT record namespaces the relay validates and stores, on top of `@kith/identity`'s discovery claims
   * (`/kith-claim/…`), which every Kith relay serves.
   */
  dhtNamespaces?: DhtNamespaces
}

export interface RelayServices {
  relay: CircuitRelayService
  dht: KadDHT
  [key: string]: unknown
}

export interface RelayHealth {
  peerId: string
  uptimeSeconds: number
  connections: number
  reservations: number
  multiaddrs: string[]
}

/** A running relay. */
export interface Relay {
  readonly peerId: string
  readonly node: Libp2p<RelayServices>
  /** Every address the relay can be dialled on, with its `/p2p/` suffix. */
  readonly multiaddrs: string[]
  /** The addresses browsers should dial (WebSockets), with their `/p2p/` suffix. */
  readonly browserMultiaddrs: string[]
  /** Base URL of the HTTP endpoints, e.g. `http://127.0.0.1:8080`. */
  readonly httpUrl: string
  health(): RelayHealth
  stop(): Promise<void>
}

/** Starts a relay. Throws `AddressInUseError`, `KeyFileError` or `ConfigError` with a one-line message. */
export async function startRelay(init: RelayInit = {}): Promise<Relay> {
  const config: RelayConfig = { ...DEFAULT_CONFIG, ...stripUndefined(init) }
  const log = init.logger ?? pino({ level: config.logLevel, base: { service: 'kith-relay' } })
  const startedAt = Date.now()

  let privateKey = init.privateKey
  if (privateKey == null) {
    const loaded = await loadOrCreateKey(config.keyFile)
    privateKey = loaded.privateKey
    log.info(
      { keyFile: config.keyFile, created: loaded.created },
      loaded.created ? 'created key file' : 'loaded key file'
    )
  }

  const namespaces: DhtNamespaces = { [DISCOVERY_NAMESPACE]: discoveryNamespace(), ...init.dhtNamespaces }
  const registry = new Registry()
  let node: Libp2p<RelayServices>
  try {
    node = await createLibp2p({
      privateKey,
      datastore: mergingDatastore(new MemoryDatastore(), namespaces),
      addresses: { listen: config.listen, announce: config.announce },
      transports: [tcp(), webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { maxConnections: config.maxConnections },
      // peers are watched on one long-lived liveness stream per connection (or by ping streams, for peers without it)
      connectionMonitor: { enabled: false },
      // a relay on a LAN or loopback must be able to dial its bootstrap peers there
      connectionGater: config.allowPrivateAddresses ? { denyDialMultiaddr: () => false } : {},
      metrics: prometheusMetrics({ registry, collectDefaultMetrics: true }),
      services: {
        identify: identify({ protocolPrefix: PROTOCOL_PREFIX }),
        liveness: liveness(),
        ping: ping({ protocolPrefix: PROTOCOL_PREFIX, maxOutboundStreams: 4, maxInboundStreams: 4 }),
        autonat: autoNAT({ protocolPrefix: PROTOCOL_PREFIX }),
        dht: kadDHT({
          protocol: DHT_PROTOCOL,
          clientMode: false,
          peerInfoMapper: config.allowPrivateAddresses ? passthroughMapper : removePrivateAddressesMapper,
          logPrefix: 'kith:dht',
          datastorePrefix: DHT_DATASTORE_PREFIX,
          metricsPrefix: 'kith_dht',
          ...dhtRecordRules(namespaces)
        }),
        relay: circuitRelayServer({
          reservations: {
            maxReservations: config.maxReservations,
            applyDefaultLimit: true,
            defaultDurationLimit: config.relayDurationMs,
            defaultDataLimit: BigInt(config.relayBytes)
          }
        })
      }
    })
  } catch (err: unknown) {
    throw wrapListenError(err, config.listen)
  }

  const peerId = node.peerId.toString()
  const multiaddrs = (): string[] => node.getMultiaddrs().map((ma) => ma.toString())
  const health = (): RelayHealth => ({
    peerId,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    connections: node.getConnections().length,
    reservations: node.services.relay.reservations.size,
    multiaddrs: multiaddrs()
  })
  const browserMultiaddrs = (): string[] =>
    multiaddrs().filter((ma) => ma.includes('/ws/') || ma.includes('/wss/') || ma.includes('/tls/'))

  new Gauge({
    name: 'kith_relay_connections',
    help: 'Open connections',
    registers: [registry],
    collect() {
      this.set(node.getConnections().length)
    }
  })
  new Gauge({
    name: 'kith_relay_reservations',
    help: 'Relay reservations held',
    registers: [registry],
    collect() {
      this.set(node.services.relay.reservations.size)
    }
  })

  let http: Awaited<ReturnType<typeof startHttp>>
  try {
    http = await startHttp({
      host: config.httpHost,
      port: config.httpPort,
      health,
      metrics: async () => registry.metrics(),
      metricsContentType: registry.contentType,
      bootstrap: () => ({ peerId, multiaddrs: browserMultiaddrs(), all: multiaddrs() }),
      log
    })
  } catch (err: unknown) {
    await node.stop()
    throw err
  }

  node.addEventListener('peer:connect', (evt) => log.debug({ peer: evt.detail.toString() }, 'peer connected'))
  node.addEventListener('peer:disconnect', (evt) =>
    log.debug({ peer: evt.detail.toString() }, 'peer disconnected')
  )
  node.services.relay.addEventListener('relay:reservation', (evt) =>
    log.debug({ peer: evt.detail.addr.toString() }, 'reservation made')
  )

  const bootstrapController = new AbortController()
  for (const addr of config.bootstrap) {
    joinBootstrap(node, addr, bootstrapController.signal, log).catch((err: unknown) => {
      log.error({ err, addr }, 'bootstrap loop ended')
    })
  }

  log.info({ peerId, multiaddrs: multiaddrs(), http: http.url }, 'relay started')

  let stopped = false
  return {
    peerId,
    node,
    get multiaddrs() {
      return multiaddrs()
    },
    get browserMultiaddrs() {
      return browserMultiaddrs()
    },
    httpUrl: http.url,
    health,
    async stop() {
      if (stopped) return
      stopped = true
      bootstrapController.abort()
      await Promise.allSettled([http.close(), node.stop()])
      log.info({ peerId }, 'relay stopped')
    }
  }
}

/** Dials a bootstrap relay until it answers, then tags it so libp2p keeps the connection and redials it. */
async function joinBootstrap(node: Libp2p, addr: string, signal: AbortSignal, log: Logger): Promise<void> {
  const ma = multiaddr(addr)
  for (let delay = 500; !signal.aborted; delay = Math.min(delay * 2, 30_000)) {
    try {
      const connection = await node.dial(ma, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)])
      })
      await node.peerStore.merge(connection.remotePeer, { tags: { [KEEP_ALIVE]: { value: 1 } } })
      log.info({ bootstrap: addr }, 'joined bootstrap relay')
      return
    } catch (err: unknown) {
      if (signal.aborted) return
      log.warn(
        { bootstrap: addr, err: (err as Error).message, retryInMs: delay },
        'bootstrap relay unreachable'
      )
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer)
            resolve()
          },
          { once: true }
        )
      })
    }
  }
}

function wrapListenError(err: unknown, listen: string[]): unknown {
  const text = String((err as Error)?.message ?? err)
  const inUse = (err as NodeJS.ErrnoException)?.code === 'EADDRINUSE' || text.includes('EADDRINUSE')
  if (inUse) {
    return new AddressInUseError(`a listen address is already in use (${listen.join(', ')})`, { cause: err })
  }
  return err
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
