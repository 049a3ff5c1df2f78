// Liveness over one long-lived stream per connection. libp2p's connection monitor opens a ping stream from each end
// of every connection every interval, and on WebRTC a stream is a data channel opened, negotiated and closed: in a
// room of 8 browsers that was 14 of the 23 data channels and 55 of the 121 messages a page made every 10 s while
// nobody did anything. Here each end sends a 5-byte ping on a stream the dialer opened once, and the other answers.
import { serviceCapabilities } from '@libp2p/interface'
import { AdaptiveTimeout, byteStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { equals } from 'uint8arrays/equals'
import {
  DEFAULT_LIVENESS_INTERVAL_MS,
  DEFAULT_LIVENESS_TIMEOUT_MS,
  LIVENESS_PROTOCOL,
  LIVENESS_STALL_MS,
  LIVENESS_TIMEOUT_STRETCH,
  MAX_LIVENESS_PINGS_PER_SECOND,
  PING_PROTOCOL
} from './constants.ts'
import { LivenessError } from './errors.ts'
import type { AdaptiveTimeoutSignal } from '@libp2p/utils'
import type {
  ComponentLogger,
  Connection,
  Libp2pEvents,
  Logger,
  Metrics,
  Startable,
  Stream,
  TypedEventTarget
} from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

/** Frame types on the liveness stream: `type (1 byte) ‖ sequence number (uint32, big-endian)`. */
export const LivenessFrame = { Ping: 1, Pong: 2 } as const

/** Every liveness frame is this long. */
export const LIVENESS_FRAME_BYTES = 5

/** Bytes echoed by a fallback ping (libp2p's ping protocol). */
const PING_BYTES = 32

export interface LivenessInit {
  /** How often each end pings. @default 10_000 */
  intervalMs?: number
  /**
   * A ping unanswered this long closes the connection; while recent pings are slow the timeout follows them, up to
   * `LIVENESS_TIMEOUT_STRETCH` times this. @default 3_000
   */
  timeoutMs?: number
}

export interface LivenessComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
  metrics?: Metrics
}

/** How a connection is being watched. */
export const LivenessMode = {
  /** Waiting for the dialer's liveness stream (or opening it). */
  Pending: 'pending',
  /** Pings on the long-lived liveness stream. */
  Stream: 'stream',
  /** The remote does not speak the liveness protocol: a ping stream per interval, as libp2p's monitor does. */
  Ping: 'ping'
} as const
export type LivenessMode = (typeof LivenessMode)[keyof typeof LivenessMode]

/** The `liveness` service: notices a peer that vanished without closing its connection. */
export interface Liveness {
  /** How `connection` is being watched, or undefined when it is not (closed, or the service stopped). */
  modeOf(connection: Connection): LivenessMode | undefined
}

interface Watch {
  connection: Connection
  mode: LivenessMode
  openedAt: number
  stream?: Stream
  buffer: Uint8ArrayList
  seq: number
  outstanding?: { seq: number; sentAt: number; signal: AdaptiveTimeoutSignal }
  /** When the remote last sent a frame on the liveness stream (a ping or a pong). */
  heardAt: number
  /** Pings the remote sent since `heardSince` (a one-second window). */
  heard: number
  heardSince: number
  /** A fallback ping stream is in flight. */
  pinging: boolean
}

function frame(type: number, seq: number): Uint8Array {
  const bytes = new Uint8Array(LIVENESS_FRAME_BYTES)
  bytes[0] = type
  new DataView(bytes.buffer).setUint32(1, seq >>> 0)
  return bytes
}

class LivenessService implements Liveness, Startable {
  readonly [Symbol.toStringTag] = '@kith/liveness'
  readonly [serviceCapabilities] = ['@libp2p/connection-monitor']
  private readonly log: Logger
  private readonly intervalMs: number
  private readonly timeout: AdaptiveTimeout
  private readonly watches = new Map<string, Watch>()
  private timer?: ReturnType<typeof setInterval>
  private abort = new AbortController()
  private started = false

  private readonly onOpen = (event: CustomEvent<Connection>): void => {
    this.watch(event.detail)
  }

  private readonly onClose = (event: CustomEvent<Connection>): void => {
    this.forget(event.detail.id)
  }

  constructor(
    private readonly components: LivenessComponents,
    init: LivenessInit = {}
  ) {
    this.log = components.logger.forComponent('kith:peer:liveness')
    this.intervalMs = init.intervalMs ?? DEFAULT_LIVENESS_INTERVAL_MS
    const timeoutMs = init.timeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS
    this.timeout = new AdaptiveTimeout({
      minTimeout: timeoutMs,
      maxTimeout: timeoutMs * LIVENESS_TIMEOUT_STRETCH,
      metrics: components.metrics,
      metricName: 'kith_liveness_ping_time_milliseconds'
    })
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    this.abort = new AbortController()
    await this.components.registrar.handle(
      LIVENESS_PROTOCOL,
      (stream, connection) => {
        this.accept(stream, connection)
      },
      { maxInboundStreams: 2, maxOutboundStreams: 2, runOnLimitedConnection: true }
    )
    this.components.events.addEventListener('connection:open', this.onOpen)
    this.components.events.addEventListener('connection:close', this.onClose)
    for (const connection of this.components.connectionManager.getConnections()) this.watch(connection)
    this.timer = setInterval(() => {
      this.tick()
    }, this.intervalMs)
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.timer)
    this.components.events.removeEventListener('connection:open', this.onOpen)
    this.components.events.removeEventListener('connection:close', this.onClose)
    this.abort.abort()
    for (const id of [...this.watches.keys()]) this.forget(id)
    await this.components.registrar.unhandle(LIVENESS_PROTOCOL)
  }

  modeOf(connection: Connection): LivenessMode | undefined {
    return this.watches.get(connection.id)?.mode
  }

  private watch(connection: Connection): void {
    if (this.watches.has(connection.id) || connection.status !== 'open') return
    const watch: Watch = {
      connection,
      mode: LivenessMode.Pending,
      openedAt: Date.now(),
      buffer: new Uint8ArrayList(),
      seq: 0,
      heard: 0,
      heardSince: 0,
      heardAt: 0,
      pinging: false
    }
    this.watches.set(connection.id, watch)
    // the dialer opens the stream; the other end waits for it (and pings the old way if it never comes)
    if (connection.direction === 'outbound') void this.open(watch)
  }

  private async open(watch: Watch): Promise<void> {
    const { connection } = watch
    try {
      const stream = await connection.newStream(LIVENESS_PROTOCOL, {
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.intervalMs)]),
        runOnLimitedConnection: true
      })
      if (this.watches.get(connection.id) !== watch) {
        stream.abort(new LivenessError('the connection is no longer watched'))
        return
      }
      this.use(watch, stream)
    } catch (err: unknown) {
      if (this.watches.get(connection.id) !== watch) return
      // a peer without the protocol (an older Kith, plain libp2p) answers libp2p's ping protocol instead
      this.log(
        'no liveness stream to %p (%s); pinging it with a stream per interval',
        connection.remotePeer,
        err
      )
      watch.mode = LivenessMode.Ping
    }
  }

  /** The remote dialed: its liveness stream. */
  private accept(stream: Stream, connection: Connection): void {
    const watch = this.watches.get(connection.id)
    if (watch == null || watch.stream != null) {
      stream.abort(new LivenessError('one liveness stream per connection'))
      return
    }
    this.use(watch, stream)
  }

  private use(watch: Watch, stream: Stream): void {
    watch.stream = stream
    watch.mode = LivenessMode.Stream
    stream.addEventListener('message', (event) => {
      watch.buffer.append(event.data)
      this.read(watch)
    })
    stream.addEventListener('close', () => {
      if (watch.stream !== stream) return
      watch.stream = undefined
      watch.buffer.consume(watch.buffer.byteLength)
      this.settle(watch)
      if (this.watches.get(watch.connection.id) === watch && watch.connection.status === 'open') {
        // the stream ended but the connection did not: keep watching it the old way
        this.log(
          'the liveness stream to %p ended; pinging it with a stream per interval',
          watch.connection.remotePeer
        )
        watch.mode = LivenessMode.Ping
      }
    })
  }

  private read(watch: Watch): void {
    const { stream, buffer } = watch
    if (stream == null) return
    while (buffer.byteLength >= LIVENESS_FRAME_BYTES) {
      const bytes = buffer.subarray(0, LIVENESS_FRAME_BYTES)
      buffer.consume(LIVENESS_FRAME_BYTES)
      const seq = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1)
      const now = Date.now()
      watch.heardAt = now
      if (bytes[0] === LivenessFrame.Ping) {
        if (now - watch.heardSince >= 1_000) {
          watch.heard = 0
          watch.heardSince = now
        }
        if (++watch.heard > MAX_LIVENESS_PINGS_PER_SECOND) {
          stream.abort(
            new LivenessError(`more than ${MAX_LIVENESS_PINGS_PER_SECOND} liveness pings in a second`)
          )
          return
        }
        if (!this.send(watch, frame(LivenessFrame.Pong, seq))) return
      } else if (bytes[0] === LivenessFrame.Pong) {
        const outstanding = watch.outstanding
        // a pong for a ping this end never sent, or already timed out, is ignored
        if (outstanding == null || outstanding.seq !== seq) continue
        watch.outstanding = undefined
        watch.connection.rtt = Date.now() - outstanding.sentAt
        this.timeout.cleanUp(outstanding.signal)
      } else {
        stream.abort(new LivenessError(`an unknown liveness frame type ${bytes[0]}`))
        return
      }
    }
  }

  private tick(): void {
    const now = Date.now()
    for (const watch of this.watches.values()) {
      if (watch.connection.status !== 'open') continue
      if (watch.mode === LivenessMode.Pending && now - watch.openedAt >= this.intervalMs) {
        this.log(
          '%p opened no liveness stream; pinging it with a stream per interval',
          watch.connection.remotePeer
        )
        watch.mode = LivenessMode.Ping
      }
      if (watch.mode === LivenessMode.Stream) this.ping(watch)
      else if (watch.mode === LivenessMode.Ping) void this.pingByStream(watch)
    }
  }

  /** Sends a ping on the liveness stream; no pong within the (adaptive) timeout closes the connection. */
  private ping(watch: Watch): void {
    const { stream } = watch
    // the last ping is still waiting for its pong: its own timeout decides
    if (stream == null || watch.outstanding != null) return
    const seq = (watch.seq = (watch.seq + 1) >>> 0)
    this.await(watch, seq, Date.now(), false)
    this.send(watch, frame(LivenessFrame.Ping, seq))
  }

  /**
   * Waits (adaptively) for the pong to ping `seq`. When the wait runs out, the ping is spared once if this end's
   * thread was held up past the deadline or the remote has sent anything since the ping (`LIVENESS_STALL_MS`);
   * otherwise the connection is closed. On a saturated machine (48 browsers on two cores) a page busy for a few
   * seconds closed healthy connections on both sides of it, whose redials loaded the machine further.
   */
  private await(watch: Watch, seq: number, sentAt: number, spared: boolean): void {
    const signal = this.timeout.getTimeoutSignal({ signal: this.abort.signal })
    watch.outstanding = { seq, sentAt, signal }
    signal.addEventListener(
      'abort',
      () => {
        if (watch.outstanding?.signal !== signal || !this.started) return
        watch.outstanding = undefined
        this.timeout.cleanUp(signal)
        const now = Date.now()
        // (the wait began at signal.start: when the ping was sent, or when it was spared)
        const stalled = now - signal.start - signal.timeout > LIVENESS_STALL_MS
        if (!spared && (stalled || watch.heardAt > sentAt)) {
          this.log(
            'no pong from %p within %d ms, but %s: waiting once more',
            watch.connection.remotePeer,
            signal.timeout,
            stalled ? `this end was held up for ${now - signal.start} ms` : 'it has spoken since'
          )
          this.await(watch, seq, sentAt, true)
          return
        }
        this.fail(
          watch,
          new LivenessError(
            `no answer to a liveness ping within ${now - sentAt} ms${spared ? ' (two waits)' : ''}`
          )
        )
      },
      { once: true }
    )
  }

  /**
   * Sends a frame on the liveness stream; false when the stream can no longer be written (the remote closed it, or it
   * is closing), which ends it: the connection is then watched by ping streams.
   */
  private send(watch: Watch, bytes: Uint8Array): boolean {
    const { stream } = watch
    if (stream == null) return false
    try {
      if (stream.writeStatus !== 'writable')
        throw new LivenessError('the liveness stream is closed for writing')
      stream.send(bytes)
      return true
    } catch (err: unknown) {
      stream.abort(err as Error)
      return false
    }
  }

  /** libp2p's ping: a stream per ping, 32 bytes echoed. A remote without the protocol still counts as alive. */
  private async pingByStream(watch: Watch): Promise<void> {
    if (watch.pinging) return
    watch.pinging = true
    const { connection } = watch
    const signal = this.timeout.getTimeoutSignal({ signal: this.abort.signal })
    let stream: Stream | undefined
    try {
      stream = await connection.newStream(PING_PROTOCOL, { signal, runOnLimitedConnection: true })
      const bytes = byteStream(stream)
      const sent = crypto.getRandomValues(new Uint8Array(PING_BYTES))
      const start = Date.now()
      const [, echoed] = await Promise.all([
        bytes.write(sent, { signal }),
        bytes.read({ bytes: PING_BYTES, signal })
      ])
      if (echoed == null || !equals(echoed.subarray(), sent)) {
        throw new LivenessError('the ping came back altered')
      }
      connection.rtt = Date.now() - start
      await stream.close({ signal })
    } catch (err: unknown) {
      stream?.abort(err as Error)
      if ((err as Error).name !== 'UnsupportedProtocolError' && this.started) {
        this.fail(watch, err as Error)
      }
    } finally {
      this.timeout.cleanUp(signal)
      watch.pinging = false
    }
  }

  private fail(watch: Watch, err: Error): void {
    if (this.watches.get(watch.connection.id) !== watch) return
    this.log.error('closing the connection to %p: %s', watch.connection.remotePeer, err.message)
    this.forget(watch.connection.id)
    watch.connection.abort(err)
  }

  /** Drops an outstanding ping without counting it as a round trip or a failure. */
  private settle(watch: Watch): void {
    const outstanding = watch.outstanding
    watch.outstanding = undefined
    outstanding?.signal.clear()
  }

  private forget(id: string): void {
    const watch = this.watches.get(id)
    if (watch == null) return
    this.watches.delete(id)
    this.settle(watch)
    const stream = watch.stream
    watch.stream = undefined
    if (stream != null && stream.status === 'open') stream.abort(new LivenessError('the connection closed'))
  }
}

/**
 * Watches every connection for a peer that vanished without closing it: pings on one long-lived stream per
 * connection (`/kith/liveness/1.0.0`), or libp2p's ping protocol with a stream per interval for a remote that does
 * not speak it. A ping unanswered within the timeout closes the connection. Replaces libp2p's connection monitor.
 */
export function liveness(init: LivenessInit = {}): (components: LivenessComponents) => Liveness {
  return (components) => new LivenessService(components, init)
}
