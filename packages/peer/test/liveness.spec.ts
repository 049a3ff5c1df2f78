import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createKithPeer,
  LIVENESS_FRAME_BYTES,
  LIVENESS_PROTOCOL,
  LIVENESS_STALL_MS,
  LivenessFrame,
  LivenessMode,
  MAX_LIVENESS_PINGS_PER_SECOND,
  PING_PROTOCOL
} from '../src/index.ts'
import type { KithPeer } from '../src/index.ts'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'

const INTERVAL_MS = 200
const TIMEOUT_MS = 300
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

const started: Array<{ stop(): void | Promise<void> }> = []

afterEach(async () => {
  await Promise.all(started.splice(0).map(async (node) => node.stop()))
})

async function kithPeer(): Promise<KithPeer> {
  const peer = await createKithPeer({
    listen: LOOPBACK,
    allowPrivateAddresses: true,
    livenessIntervalMs: INTERVAL_MS,
    livenessTimeoutMs: TIMEOUT_MS
  })
  started.push(peer)
  return peer
}

/** Replaces `node`'s ping handler with one that echoes as libp2p's does and counts the streams it answered. */
async function countPings(node: Libp2p): Promise<() => number> {
  let pings = 0
  await node.unhandle(PING_PROTOCOL)
  await node.handle(PING_PROTOCOL, (stream) => {
    pings++
    stream.addEventListener('message', (event) => {
      stream.send(event.data)
    })
    stream.addEventListener('remoteCloseWrite', () => {
      void stream.close()
    })
  })
  return () => pings
}

/** A libp2p node without the liveness service; `pings` counts the ping streams it answered. */
async function plainPeer(): Promise<{ node: Libp2p; pings: () => number }> {
  const node = await createLibp2p({
    addresses: { listen: LOOPBACK },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    connectionMonitor: { enabled: false },
    services: { ping: ping({ protocolPrefix: 'kith' }) }
  })
  started.push(node)
  return { node, pings: await countPings(node) }
}

/** A plain node whose liveness handler reads the pings and never answers: a peer that froze. */
async function frozenPeer(): Promise<Libp2p> {
  const { node } = await plainPeer()
  await node.handle(LIVENESS_PROTOCOL, (stream) => {
    stream.addEventListener('message', () => undefined)
  })
  return node
}

function frame(type: number, seq: number): Uint8Array {
  const bytes = new Uint8Array(LIVENESS_FRAME_BYTES)
  bytes[0] = type
  new DataView(bytes.buffer).setUint32(1, seq)
  return bytes
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  await vi.waitFor(
    () => {
      if (!check()) throw new Error(`${what}: not within ${ms} ms`)
    },
    { timeout: ms, interval: 20 }
  )
}

/** Resolves once `stream` has delivered `n` messages. */
async function messages(stream: Stream, n: number): Promise<void> {
  await new Promise<void>((resolve) => {
    let seen = 0
    stream.addEventListener('message', () => {
      if (++seen === n) resolve()
    })
  })
}

const closed = async (connection: Connection): Promise<void> =>
  new Promise((resolve) => {
    if (connection.status === 'closed') resolve()
    else connection.addEventListener('close', () => resolve(), { once: true })
  })

describe('liveness', () => {
  it('should watch a connection on one stream opened by its dialer, with round trips, and open no stream per ping', async () => {
    const a = await kithPeer()
    const b = await kithPeer()
    const pingsAtA = await countPings(a)
    const pingsAtB = await countPings(b)
    const connection = await a.dial(b.getMultiaddrs()[0] as never)
    const atB = () => b.getConnections(a.peerId)[0] as Connection
    await until(() => connection.rtt != null && atB()?.rtt != null, 3_000, 'round trips on both ends')
    // five more pings from b, each answered: the pings keep to the one stream
    const stream = connection.streams.find((s) => s.protocol === LIVENESS_PROTOCOL) as Stream
    await messages(stream, 10)
    expect(a.services.liveness.modeOf(connection)).toBe(LivenessMode.Stream)
    expect(b.services.liveness.modeOf(atB())).toBe(LivenessMode.Stream)
    expect(connection.streams.filter((s) => s.protocol === LIVENESS_PROTOCOL)).toHaveLength(1)
    expect(atB().streams.filter((s) => s.protocol === LIVENESS_PROTOCOL)).toHaveLength(1)
    expect(pingsAtA() + pingsAtB()).toBe(0)
    expect(connection.status).toBe('open')
  })

  it('should close a connection whose peer stops answering its pings', async () => {
    const a = await kithPeer()
    const b = await frozenPeer()
    const connection = await a.dial(b.getMultiaddrs()[0] as never)
    const gone = closed(connection)
    await until(() => a.services.liveness.modeOf(connection) === LivenessMode.Stream, 2_000, 'the stream')
    const since = Date.now()
    await gone
    // the next ping within an interval, unanswered after the timeout
    expect(Date.now() - since).toBeLessThan(INTERVAL_MS + TIMEOUT_MS * 5 + 500)
    expect(a.getConnections(b.peerId)).toHaveLength(0)
  })

  it('should spare a ping once when this end was held up past its deadline, and still close a frozen peer', async () => {
    // this end's thread busy for longer than a ping's whole wait, right after each of its pings went out: the timer
    // fires before the pong (or the ping itself) has been read, through no fault of the remote
    const stall = TIMEOUT_MS * 5 + LIVENESS_STALL_MS + 500
    const holdUpAfterPings = (stream: Stream, times: number): (() => number) => {
      let held = 0
      const send = stream.send.bind(stream)
      stream.send = (bytes) => {
        const sent = send(bytes)
        if (held < times && (bytes as Uint8Array)[0] === LivenessFrame.Ping) {
          held++
          const until = Date.now() + stall
          while (Date.now() < until);
        }
        return sent
      }
      return () => held
    }

    const a = await kithPeer()
    const b = await kithPeer()
    const connection = await a.dial(b.getMultiaddrs()[0] as never)
    await until(() => a.services.liveness.modeOf(connection) === LivenessMode.Stream, 2_000, 'the stream')
    const held = holdUpAfterPings(
      connection.streams.find((s) => s.protocol === LIVENESS_PROTOCOL) as Stream,
      2
    )
    await until(() => held() === 2, 4 * stall, 'two hold-ups')
    const rtt = connection.rtt
    await until(() => connection.rtt !== rtt, 2_000, 'a later round trip')
    expect(connection.status).toBe('open')
    expect(b.getConnections(a.peerId)).toHaveLength(1)

    // a peer that reads the pings and never answers is still closed: the ping gets one more wait, not more
    const frozen = await frozenPeer()
    const toFrozen = await a.dial(frozen.getMultiaddrs()[0] as never)
    const gone = closed(toFrozen)
    await until(() => a.services.liveness.modeOf(toFrozen) === LivenessMode.Stream, 2_000, 'the stream')
    holdUpAfterPings(toFrozen.streams.find((s) => s.protocol === LIVENESS_PROTOCOL) as Stream, 1)
    const since = Date.now()
    await gone
    expect(Date.now() - since).toBeLessThan(INTERVAL_MS + stall + 2 * TIMEOUT_MS * 5 + 500)
    expect(a.getConnections(frozen.peerId)).toHaveLength(0)
  })

  it('should watch a peer without the protocol by ping streams, and keep it connected while it answers', async () => {
    const a = await kithPeer()
    const { node: b, pings } = await plainPeer()
    const outbound = await a.dial(b.getMultiaddrs()[0] as never)
    await until(() => a.services.liveness.modeOf(outbound) === LivenessMode.Ping, 2_000, 'the fallback')
    await until(() => pings() >= 3, 3_000, 'three ping streams')
    expect(outbound.status).toBe('open')
    expect(outbound.rtt).toBeDefined()

    // the other way round: a waits an interval for a liveness stream that never comes, then pings
    const c = await plainPeer()
    const inbound = await c.node.dial(a.getMultiaddrs()[0] as never)
    const atA = () => a.getConnections(c.node.peerId)[0] as Connection
    await until(
      () => atA() != null && a.services.liveness.modeOf(atA()) === LivenessMode.Ping,
      3_000,
      'the wait'
    )
    await until(() => c.pings() >= 2, 3_000, 'two ping streams')
    expect(inbound.status).toBe('open')
  })

  it('should answer pings on the stream, reset it for an unknown frame or a flood, and keep the connection', async () => {
    const a = await kithPeer()
    const { node: b, pings } = await plainPeer()
    const connection = await b.dial(a.getMultiaddrs()[0] as never)
    const atA = () => a.getConnections(b.peerId)[0] as Connection

    const openStream = async (): Promise<{ stream: Stream; received: number[] }> => {
      const stream = await connection.newStream(LIVENESS_PROTOCOL)
      const received: number[] = []
      stream.addEventListener('message', (event) => received.push(...event.data.subarray()))
      return { stream, received }
    }

    const first = await openStream()
    first.stream.send(frame(LivenessFrame.Ping, 7))
    await until(() => first.received.length >= LIVENESS_FRAME_BYTES, 2_000, 'a pong')
    expect(first.received).toEqual([...frame(LivenessFrame.Pong, 7)])
    expect(a.services.liveness.modeOf(atA())).toBe(LivenessMode.Stream)

    first.stream.send(frame(9, 1))
    await until(() => first.stream.status !== 'open', 2_000, 'the reset')
    expect(a.services.liveness.modeOf(atA())).toBe(LivenessMode.Ping)
    await until(() => pings() >= 1, 2_000, 'a ping stream')
    expect(connection.status).toBe('open')

    // a stream opened later is taken up again, and a flood of pings resets it
    const second = await openStream()
    await until(() => a.services.liveness.modeOf(atA()) === LivenessMode.Stream, 2_000, 'the new stream')
    for (let seq = 0; seq <= MAX_LIVENESS_PINGS_PER_SECOND + 1; seq++)
      second.stream.send(frame(LivenessFrame.Ping, seq))
    await until(() => second.stream.status !== 'open', 2_000, 'the reset')
    expect(second.received.length / LIVENESS_FRAME_BYTES).toBeLessThanOrEqual(MAX_LIVENESS_PINGS_PER_SECOND)
    expect(connection.status).toBe('open')
  })
})
