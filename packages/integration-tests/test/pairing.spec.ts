import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  createIdentity,
  DevicePairing,
  pairingLink,
  pairWith,
  readPairingLink,
  signAs,
  verify
} from '@kith/identity'
import { afterAll, describe, expect, it } from 'vitest'
import { RelayFixture, reserved, startPeer } from './fixtures/nodes.ts'
import type { PairingRequest } from '@kith/identity'
import type { KithPeer } from '@kith/peer'

describe('pairing a second device over libp2p', () => {
  const peers: KithPeer[] = []
  const relays: RelayFixture[] = []

  afterAll(async () => {
    await Promise.all(peers.splice(0).map(async (p) => p.stop()))
    await Promise.all(relays.splice(0).map(async (r) => r.stop()))
  })

  it('should pair a new device through the relay named in the link, after the owner approves it', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const phone = await createIdentity({ deviceName: 'phone' })
    const phonePeer = await startPeer({ privateKey: phone.device, relays: [relay.addr], listen: ['/webrtc'] })
    // the new device knows no relay of its own: only the link's
    const laptopKey = await generateKeyPair('Ed25519')
    const laptopPeer = await startPeer({ privateKey: laptopKey, listen: ['/webrtc'] })
    peers.push(phonePeer, laptopPeer)
    await reserved(phonePeer)

    const asked: PairingRequest[] = []
    const pairing = new DevicePairing(phone)
    await pairing.handle(phonePeer, {
      approve: (request) => {
        asked.push(request)
        return true
      }
    })
    const link = pairingLink(pairing.createOffer({ relays: [relay.addr] }), 'https://demo.example/')
    const laptop = await pairWith(laptopPeer, readPairingLink(link), {
      device: laptopKey,
      deviceName: 'laptop'
    })

    expect(asked.map((r) => [r.deviceId.toString(), r.deviceName])).toEqual([
      [laptopPeer.peerId.toString(), 'laptop']
    ])
    expect(laptop.user).toEqual(phone.user)
    const verified = verify(signAs(laptop, 'hello', 1), { type: 'hello', from: laptopPeer.peerId })
    expect(verified.user).toEqual(phone.user)
  })
})
