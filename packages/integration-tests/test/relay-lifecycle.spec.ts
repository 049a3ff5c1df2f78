import { ConnectionKind, connectionKind, RelayState } from '@kith/peer'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import {
  echo,
  RelayFixture,
  relayState,
  reserved,
  startPeer,
  startPeerProcess,
  startReservedPair,
  until
} from './fixtures/nodes.ts'
import type { KithPeer } from '@kith/peer'

describe('when the relay or a peer goes away', () => {
  const peers: KithPeer[] = []
  const relays: RelayFixture[] = []

  afterEach(async () => {
    await Promise.all(peers.splice(0).map(async (p) => p.stop()))
    await Promise.all(relays.splice(0).map(async (r) => r.stop()))
  })

  it('should keep a direct connection when the relay is killed, and reserve again when it returns', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const [a, b] = await startReservedPair(relay.addr)
    peers.push(a, b)
    const link = await a.dial(b.peerId)
    expect(connectionKind(link)).toBe(ConnectionKind.WebRTC)

    await relay.process.kill('SIGKILL')
    await until(a, () => relayState(a) === RelayState.Waiting, 10_000, 'the relay to be missed')
    expect(a.services.relays.getRelays()[0]?.lastError).toBeDefined()
    expect(await echo(a, b.peerId, 'relay is gone')).toBe('relay is gone')
    expect(a.getConnections(b.peerId).map((c) => c.id)).toContain(link.id)

    await relay.restart()
    await Promise.all([reserved(a), reserved(b)])
    expect(a.services.relays.getRelays()[0]?.failures).toBe(0)
    expect(link.status).toBe('open')
  })

  it('should hold a reservation on every configured relay, and be reachable through each', async () => {
    const first = await RelayFixture.start()
    const second = await RelayFixture.start()
    relays.push(first, second)
    const many = await startPeer({ relays: [first.addr, second.addr], listen: ['/webrtc'] })
    const onFirst = await startPeer({ relays: [first.addr], listen: ['/webrtc'] })
    const onSecond = await startPeer({ relays: [second.addr], listen: ['/webrtc'] })
    peers.push(many, onFirst, onSecond)
    await until(
      many,
      () => many.services.relays.getRelays().every((r) => r.state === RelayState.Reserved),
      15_000,
      'reservations on both relays'
    )
    await Promise.all([reserved(onFirst), reserved(onSecond)])
    expect(await echo(onFirst, many.peerId, 'via first')).toBe('via first')
    expect(await echo(onSecond, many.peerId, 'via second')).toBe('via second')
  })

  it('should notice a peer that vanished without a word within seconds', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const a = await startPeer({ relays: [relay.addr], listen: ['/webrtc'] })
    peers.push(a)
    await reserved(a)
    const other = await startPeerProcess(relay.addr)
    const id = peerIdFromString(other.peerId)
    expect(await echo(a, id, 'hello')).toBe('hello')
    expect(a.getConnections(id).some((c) => connectionKind(c) === ConnectionKind.WebRTC)).toBe(true)

    await other.kill()
    const killedAt = Date.now()
    await until(a, () => a.getConnections(id).length === 0, 15_000, 'the dead peer to be noticed')
    // liveness pings every 1 s with a 1.5 s timeout here (2 s / 3 s by default)
    expect(Date.now() - killedAt).toBeLessThan(6_000)
  })

  it('should keep retrying a relay that is down, with growing waits', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const addr = relay.addr
    await relay.process.kill('SIGKILL')
    const a = await startPeer({ relays: [addr], listen: ['/webrtc'] })
    peers.push(a)
    await until(
      a,
      () => (a.services.relays.getRelays()[0]?.failures ?? 0) >= 3,
      15_000,
      'three failed attempts'
    )
    const status = a.services.relays.getRelays()[0]
    expect(status?.state).toBe(RelayState.Waiting)
    expect(status?.nextAttemptAt).toBeGreaterThan(Date.now() - 1_000)
  })
  it('should retry a relay at once on meeting a peer that holds a reservation on it, not at the end of its wait', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    // a wait of a minute after the first failure: only the hint can bring this peer back in time
    const a = await startPeer({
      relays: [relay.addr],
      listen: ['/ip4/127.0.0.1/tcp/0', '/webrtc'],
      relayRetryMinMs: 60_000,
      relayRetryMaxMs: 60_000
    })
    peers.push(a)
    await reserved(a)
    await relay.process.kill('SIGKILL')
    await until(a, () => relayState(a) === RelayState.Waiting, 10_000, 'the relay to be missed')
    await relay.restart()
    const b = await startPeer({ relays: [relay.addr], listen: ['/webrtc'] })
    peers.push(b)
    await reserved(b)
    expect(relayState(a)).toBe(RelayState.Waiting)
    // b reaches a directly (TCP); identify tells a that b listens through the relay
    const tcp = a
      .getMultiaddrs()
      .find((ma) => ma.toString().includes('/tcp/') && !ma.toString().includes('/ws'))
    if (tcp == null) throw new Error('a has no TCP address')
    const met = Date.now()
    await b.dial(tcp)
    await until(a, () => relayState(a) === RelayState.Reserved, 10_000, 'a to reserve again')
    expect(Date.now() - met).toBeLessThan(5_000)
  })
})
