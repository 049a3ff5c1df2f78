import {
  createIdentity,
  Discovery,
  DISCOVERY_NAMESPACE,
  discoveryKey,
  discoveryNamespace,
  encode,
  encodeClaimRecord,
  readClaim,
  createClaim
} from '@kith/identity'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { echo, RelayFixture, reserved, startPeer } from './fixtures/nodes.ts'
import type { Identity } from '@kith/identity'
import type { KithPeer } from '@kith/peer'

/** Discovery through real `kith-relay` processes: the relays are the DHT servers that validate and merge claims. */
describe('discovery by identifier through the Kith DHT', () => {
  const peers: KithPeer[] = []
  const relays: RelayFixture[] = []
  let alice: Identity
  let mallory: Identity
  let alicePeer: KithPeer
  let bobPeer: KithPeer
  let malloryPeer: KithPeer
  let rawPeer: KithPeer

  const start = async (identity: Identity, ...on: RelayFixture[]): Promise<KithPeer> => {
    const peer = await startPeer({
      privateKey: identity.device,
      relays: on.map((relay) => relay.addr),
      listen: ['/webrtc'],
      dhtNamespaces: { [DISCOVERY_NAMESPACE]: discoveryNamespace() }
    })
    peers.push(peer)
    await reserved(peer)
    return peer
  }

  beforeAll(async () => {
    const first = await RelayFixture.start()
    relays.push(first)
    relays.push(await RelayFixture.start(['--bootstrap', first.addr]))
    alice = await createIdentity({ deviceName: 'alice phone' })
    mallory = await createIdentity({ deviceName: 'mallory' })
    alicePeer = await start(alice, relays[0]!)
    // Bob uses both relays so he can reach Alice's device by peer id (Kith dials a peer id through its own relays)
    bobPeer = await start(await createIdentity(), relays[1]!, relays[0]!)
    malloryPeer = await start(mallory, relays[1]!)
    // an attacker's node that runs none of Kith's record rules, so it can send anything to the DHT servers
    rawPeer = await startPeer({ relays: [relays[1]!.addr], listen: ['/webrtc'] })
    peers.push(rawPeer)
    await reserved(rawPeer)
  })

  afterAll(async () => {
    await Promise.all(peers.splice(0).map(async (p) => p.stop()))
    await Promise.all(relays.splice(0).map(async (r) => r.stop()))
  })

  it('should let Bob find Alice by her email address and then reach her device by its peer id', async () => {
    const published = await new Discovery(alicePeer.services.dht).publish(alice, 'Alice@Example.com')
    expect(published.stored).toBeGreaterThan(0)

    const found = await new Discovery(bobPeer.services.dht).lookup('alice@example.com')
    expect(found.claims.map((c) => c.userId)).toEqual([
      readClaim(createClaim(alice, published.hash), published.hash).userId
    ])
    expect(found.hops).toBeGreaterThanOrEqual(1)
    const device = found.claims[0]!.devices[0]!.deviceId
    expect(device.toString()).toBe(alicePeer.peerId.toString())
    expect(await echo(bobPeer, device, 'found you')).toBe('found you')
  })

  it('DHT squatting: Mallory claiming the same address does not hide Alice, both are returned', async () => {
    await new Discovery(malloryPeer.services.dht).publish(mallory, 'alice@example.com')
    const found = await new Discovery(bobPeer.services.dht).lookup('alice@example.com')
    expect(found.claims.map((c) => c.user)).toEqual(expect.arrayContaining([alice.user, mallory.user]))
    expect(found.claims).toHaveLength(2)
  })

  it('older seq never replaces newer on the relays, and a forged record is refused by them', async () => {
    const discovery = new Discovery(alicePeer.services.dht)
    const hash = await discovery.hash('alice@example.com')
    await discovery.publish(alice, 'alice@example.com', { seq: Date.now() + 60_000 })
    const key = discoveryKey(hash)

    // Mallory replays an older claim of Alice's through a raw DHT put, straight to the servers
    const older = readClaim(createClaim(alice, hash, { seq: 1 }), hash)
    for await (const _ of rawPeer.services.dht.put(key, encodeClaimRecord([older]))) {
      // drain
    }
    const found = await new Discovery(bobPeer.services.dht).lookup('alice@example.com')
    const aliceClaim = found.claims.find((c) => c.userId === older.userId)
    expect(aliceClaim?.seq).toBeGreaterThan(Date.now())

    // a record that is not a valid claim record: every relay answers the PUT with an error
    const responses: string[] = []
    for await (const event of rawPeer.services.dht.put(key, encode({ v: 1, c: [new Uint8Array(10)] }))) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE')
        responses.push(event.from.toString())
    }
    expect(responses).toEqual([])
    expect((await new Discovery(bobPeer.services.dht).lookup('alice@example.com')).claims).toHaveLength(2)
  })

  it('should return no claims, not an error, for an identifier nobody claimed', async () => {
    const found = await new Discovery(bobPeer.services.dht).lookup('nobody@example.com')
    expect(found.claims).toEqual([])
    expect(found.queried).toBeGreaterThan(0)
  })
})
