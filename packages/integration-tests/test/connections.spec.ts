import {
  ConnectionKind,
  connectionKind,
  DialSupersededError,
  DIRECT_MAX_BYTES,
  directMessages
} from '@kith/peer'
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest'
import {
  ECHO,
  echo,
  RelayFixture,
  startPeer,
  startReservedPair,
  until,
  untilEvents
} from './fixtures/nodes.ts'
import type { KithPeer } from '@kith/peer'
import type { Stream } from '@libp2p/interface'

describe('connections between Node peers', () => {
  let relay: RelayFixture
  const peers: KithPeer[] = []

  beforeAll(async () => {
    relay = await RelayFixture.start()
  })

  afterAll(async () => {
    await relay.stop()
  })

  afterEach(async () => {
    await Promise.all(peers.splice(0).map(async (p) => p.stop()))
  })

  it('should connect over TCP and carry an application protocol', async () => {
    const a = await startPeer()
    const b = await startPeer()
    peers.push(a, b)
    const tcp = b
      .getMultiaddrs()
      .find((ma) => ma.toString().includes('/tcp/') && !ma.toString().includes('/ws'))
    expect(tcp).toBeDefined()
    const connection = await a.dial(tcp!)
    expect(connectionKind(connection)).toBe(ConnectionKind.TCP)
    expect(connection.limits).toBeUndefined()
    expect(await echo(a, b.peerId, 'over tcp')).toBe('over tcp')
  })

  it('should reach a peer by its id alone through the relay, over a direct WebRTC connection', async () => {
    // no TCP or WebSockets listeners: the relay is the only way to find each other
    const [a, b] = await startReservedPair(relay.addr)
    peers.push(a, b)

    const connection = await a.dial(b.peerId)
    expect(connectionKind(connection)).toBe(ConnectionKind.WebRTC)
    expect(connection.limits).toBeUndefined()
    expect(connection.remoteAddr.toString()).toContain('/p2p-circuit/webrtc/p2p/')
    expect(await echo(a, b.peerId, 'over webrtc')).toBe('over webrtc')

    // the relayed circuit that carried the signaling is closed once the direct link is up
    await until(
      a,
      () => a.getConnections(b.peerId).every((c) => c.limits == null),
      10_000,
      'the circuit to close'
    )
    expect(a.getConnections(b.peerId).map((c) => connectionKind(c))).toEqual([ConnectionKind.WebRTC])
  })

  it('should keep one direct connection when two peers dial each other at once: the one the lower id dialed', async () => {
    const [a, b] = await startReservedPair(relay.addr)
    peers.push(a, b)
    const direct = (peer: KithPeer, other: KithPeer) =>
      peer.getConnections(other.peerId).filter((c) => connectionKind(c) === ConnectionKind.WebRTC)
    const opened = { a: 0, b: 0 }
    a.addEventListener('connection:open', (e) => {
      if (connectionKind(e.detail) === ConnectionKind.WebRTC) opened.a++
    })
    b.addEventListener('connection:open', (e) => {
      if (connectionKind(e.detail) === ConnectionKind.WebRTC) opened.b++
    })
    // the lower id's dial is the one kept and resolves; the higher id's stops once the lower id's connection
    // opens (DialSupersededError), or resolves and is closed as the duplicate
    const dials = await Promise.allSettled([a.dial(b.peerId), b.dial(a.peerId)])
    const lowerIsA = a.peerId.toString() < b.peerId.toString()
    const [lower, higher] = lowerIsA ? dials : [dials[1], dials[0]]
    expect(lower?.status).toBe('fulfilled')
    const superseded = higher?.status === 'rejected'
    if (superseded) expect(higher.reason).toMatchObject({ name: DialSupersededError.name })
    const one = (): boolean => direct(a, b).length === 1 && direct(b, a).length === 1
    // (the duplicate's close can take a while on a loaded machine: a full CI run once took over 10 s)
    const seen = (): string =>
      `; a holds ${
        direct(a, b)
          .map((c) => `${c.direction} ${c.status}`)
          .join(', ') || 'none'
      }, b holds ` +
      `${
        direct(b, a)
          .map((c) => `${c.direction} ${c.status}`)
          .join(', ') || 'none'
      }; opened ${opened.a} / ${opened.b}` +
      `, dials ${dials.map((d) => (d.status === 'rejected' ? (d.reason as Error).name : 'ok')).join(' / ')}`
    // (watching both ends: the last close may be b's, after a's own close event found b's duplicate still listed)
    const changes = ['connection:open', 'connection:close'] as const
    await untilEvents(
      [
        [a, changes],
        [b, changes]
      ],
      one,
      20_000,
      'one direct connection at each end'
    ).catch((err: Error) => {
      throw new Error(err.message + seen())
    })
    // both dials went through: the higher id's was superseded, or its connection opened and was closed; the
    // single connection was not reached by luck
    expect(superseded || opened.a + opened.b >= 3).toBe(true)
    expect(direct(a, b)[0]!.direction).toBe(lowerIsA ? 'outbound' : 'inbound')
    expect(direct(b, a)[0]!.direction).toBe(lowerIsA ? 'inbound' : 'outbound')
    expect(await echo(a, b.peerId, 'a to b')).toBe('a to b')
    expect(await echo(b, a.peerId, 'b to a')).toBe('b to a')
  })

  /** An echo stream over a direct WebRTC connection, and the size of each data-channel message it sends. */
  async function echoOverWebRTC(): Promise<{ stream: Stream; sent: number[] }> {
    const [a, b] = await startReservedPair(relay.addr)
    peers.push(a, b)
    await a.dial(b.peerId)
    const stream = await a.dialProtocol(b.peerId, ECHO)
    const channel = (stream as unknown as { channel: { send(data: Uint8Array): void } }).channel
    const sent: number[] = []
    const send = channel.send.bind(channel)
    channel.send = (data: Uint8Array) => {
      sent.push(data.byteLength)
      send(data)
    }
    return { stream, sent }
  }

  it('should send a small frame as one WebRTC data-channel message', async () => {
    const { stream, sent } = await echoOverWebRTC()
    stream.send(new Uint8Array(32))
    // one message holding the varint length and the protobuf frame, not a 1-byte prefix followed by the frame
    expect(sent).toHaveLength(1)
    expect(sent[0]).toBeGreaterThan(32)
    await stream.close()
  })

  it('should carry messages past the WebRTC stream layers (directMessages) to and from a plain stream, in order', async () => {
    const { stream, sent } = await echoOverWebRTC()
    const sizes = [1, 300, DIRECT_MAX_BYTES, DIRECT_MAX_BYTES + 1, 200_000, 5]
    const total = sizes.reduce((sum, size) => sum + size, 0)
    const received: Uint8Array[] = []
    let receivedBytes = 0
    const allBack = Promise.withResolvers<void>()
    const direct = directMessages(stream, (data) => {
      received.push(data.slice())
      receivedBytes += data.byteLength
      if (receivedBytes >= total) allBack.resolve()
    })
    expect(direct).toBeDefined()
    // small messages go straight to the channel; one past DIRECT_MAX_BYTES goes through the stream, cut as it cuts
    const messages = sizes.map((size, i) => new Uint8Array(size).fill(i + 1))
    for (const message of messages) expect(direct?.send(message)).toBe(true)
    expect(sent.length).toBeGreaterThanOrEqual(messages.length)
    // the echo end is a plain stream: what it read and sent back is the same bytes, in the same order
    await Promise.race([
      allBack.promise,
      new Promise((_resolve, reject) =>
        setTimeout(() => reject(new Error(`${receivedBytes} of ${total} bytes came back`)), 10_000)
      )
    ])
    expect(Buffer.concat(received)).toEqual(Buffer.concat(messages))
    // closing still works both ways: the echo end closes once this end has, and the close reaches this end
    const closed = new Promise<void>((resolve) =>
      stream.addEventListener('close', () => resolve(), { once: true })
    )
    await stream.close()
    await closed
    expect(stream.status).toBe('closed')
  })

  it('should refuse an application protocol of another app', async () => {
    const a = await startPeer()
    const b = await startPeer({ appId: 'other' })
    peers.push(a, b)
    await a.dial(b.getMultiaddrs()[0]!)
    // b registered the echo handler under /kith/it/…, but an app named "other" would use /kith/other/…
    await expect(a.dialProtocol(b.peerId, '/kith/other/echo/1.0.0')).rejects.toMatchObject({
      name: 'UnsupportedProtocolError'
    })
  })
})
