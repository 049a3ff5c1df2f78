import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { RoomGater } from '../src/gater.ts'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'

function deniesConnection(gater: RoomGater, peer: PeerId): boolean | Promise<boolean> | undefined {
  return gater.gater.denyInboundEncryptedConnection?.(peer, {} as MultiaddrConnection)
}

async function newPeer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('RoomGater', () => {
  it('lets members, allowed peers and (while an invite is open) a few strangers connect', async () => {
    const [member, friend, stranger, late] = await Promise.all([newPeer(), newPeer(), newPeer(), newPeer()])
    let invites = false
    const gater = new RoomGater({ allow: (p) => p.equals(friend), strangersPerMinute: 1 })
    gater.bind({ isMember: (p) => p.equals(member), hasOpenInvites: () => invites })
    expect(deniesConnection(gater, member)).toBe(false)
    expect(deniesConnection(gater, friend)).toBe(false)
    expect(deniesConnection(gater, stranger)).toBe(true)
    invites = true
    expect(deniesConnection(gater, stranger)).toBe(false)
    // one stranger a minute here
    expect(deniesConnection(gater, late)).toBe(true)
    expect(gater.denials.map((d) => d.hook)).toEqual(['encrypted', 'encrypted'])
  })

  it('relays for room members only: not for strangers let in by an invite, nor for peers the app allows', async () => {
    const [member, other, friend, stranger] = await Promise.all([newPeer(), newPeer(), newPeer(), newPeer()])
    const gater = new RoomGater({ allow: (p) => p.equals(friend) })
    const reserve = (peer: PeerId): boolean | Promise<boolean> | undefined =>
      gater.gater.denyInboundRelayReservation?.(peer)
    const relay = (from: PeerId, to: PeerId): boolean | Promise<boolean> | undefined =>
      gater.gater.denyOutboundRelayedConnection?.(from, to)
    // before the rooms are bound nobody may use this device as a relay (while everyone may connect)
    expect(reserve(member)).toBe(true)
    expect(deniesConnection(gater, member)).toBe(false)

    gater.bind({ isMember: (p) => p.equals(member) || p.equals(other), hasOpenInvites: () => true })
    expect(deniesConnection(gater, stranger)).toBe(false)
    expect(reserve(member)).toBe(false)
    expect(reserve(stranger)).toBe(true)
    expect(reserve(friend)).toBe(true)
    expect(relay(member, other)).toBe(false)
    expect(relay(stranger, member)).toBe(true)
    expect(relay(member, stranger)).toBe(true)
    expect(relay(friend, member)).toBe(true)
    expect(gater.denials.map((d) => [d.hook, d.peer.toString()])).toEqual([
      ['reservation', member.toString()],
      ['reservation', stranger.toString()],
      ['reservation', friend.toString()],
      ['relay', stranger.toString()],
      ['relay', stranger.toString()],
      ['relay', friend.toString()]
    ])
  })
})
