import { DHT_PROTOCOL } from '@kith/peer'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { RelayFixture, reserved, startPeer } from './fixtures/nodes.ts'
import type { KithPeer } from '@kith/peer'

describe('the Kith DHT across two relays', () => {
  const peers: KithPeer[] = []
  const relays: RelayFixture[] = []

  afterEach(async () => {
    await Promise.all(peers.splice(0).map(async (p) => p.stop()))
    await Promise.all(relays.splice(0).map(async (r) => r.stop()))
  })

  it('should let a peer of one relay find what a peer of the other provides', async () => {
    const first = await RelayFixture.start()
    relays.push(first)
    const second = await RelayFixture.start(['--bootstrap', first.addr])
    relays.push(second)

    const provider = await startPeer({ relays: [first.addr], listen: ['/webrtc'] })
    const seeker = await startPeer({ relays: [second.addr], listen: ['/webrtc'] })
    peers.push(provider, seeker)
    await Promise.all([reserved(provider), reserved(seeker)])

    const protocols = await provider.peerStore.get(provider.getConnections()[0]!.remotePeer)
    expect(protocols.protocols).toContain(DHT_PROTOCOL)

    const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('kith dht test')))
    await provider.contentRouting.provide(cid, { signal: AbortSignal.timeout(20_000) })

    const found: string[] = []
    for await (const peer of seeker.contentRouting.findProviders(cid, {
      signal: AbortSignal.timeout(20_000)
    })) {
      found.push(peer.id.toString())
      if (found.includes(provider.peerId.toString())) break
    }
    expect(found).toContain(provider.peerId.toString())
  })
})
