import { createIdentity } from '@kith/identity'
import { RelayState } from '@kith/peer'
import { Sync } from '@kith/sync'
import { RoomGater, Rooms } from '@kith/trust'
import { afterEach, describe, expect, it } from 'vitest'
import { RelayFixture, startPeer, untilEvents } from './fixtures/nodes.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { KithPeer } from '@kith/peer'
import type { Room } from '@kith/trust'

interface Member {
  peer: KithPeer
  rooms: Rooms
  sync: Sync
  gater: RoomGater
}

describe('shared documents when a relay dies', () => {
  const members: Member[] = []
  const relays: RelayFixture[] = []
  const strangers: KithPeer[] = []

  afterEach(async () => {
    await Promise.all(
      members.splice(0).map(async (m) => {
        await m.sync.stop()
        await m.rooms.stop()
        await m.peer.stop()
      })
    )
    await Promise.all(strangers.splice(0).map(async (p) => p.stop()))
    await Promise.all(relays.splice(0).map(async (r) => r.stop()))
  })

  async function waitFor(predicate: () => boolean, what: string, ms = 20_000): Promise<void> {
    await untilEvents(
      members.flatMap((m): Array<[EventTarget, readonly string[]]> => [
        [m.sync, ['status']],
        [m.peer, ['connection:open', 'connection:close']],
        [m.peer.services.relays, ['relay:status', 'relay:fallbacks']]
      ]),
      predicate,
      ms,
      what
    )
  }

  async function join(host: Member, guest: Member, room: Room): Promise<Room> {
    const invite = host.rooms.invite(room, { base: 'https://app.example/' })
    return guest.rooms.join(invite.link, invite.pin)
  }

  async function member(
    addrs: string[],
    options: { relayForMembers?: boolean; peerRelays?: string[] } = {}
  ): Promise<Member> {
    const identity = await createIdentity({ deviceName: 'member' })
    const gater = new RoomGater()
    const relayForMembers = options.relayForMembers === true
    const peer = await startPeer({
      privateKey: identity.device,
      relays: options.peerRelays ?? addrs,
      connectionGater: gater.gater,
      // as in a browser: reachable only through a relay, no socket to dial
      ...(relayForMembers ? { listen: ['/webrtc'], serveRelay: true } : {})
    })
    const rooms = new Rooms({
      peer,
      identity,
      gater,
      relays: () => addrs,
      attestIntervalMs: 1_000,
      ...(relayForMembers ? { fallbackRelays: peer.services.relays } : {})
    })
    await rooms.start()
    const sync = new Sync({ peer, rooms, identity, appId: 'it', antiEntropyMs: 2_000, confirmMs: 200 })
    await sync.start()
    const m = { peer, rooms, sync, gater }
    members.push(m)
    return m
  }

  it('re-forms a link that dropped after the first relay died, through the second, and keeps syncing', async () => {
    const first = await RelayFixture.start()
    const second = await RelayFixture.start()
    relays.push(first, second)
    const addrs = [first.addr, second.addr]
    const alice = await member(addrs)
    const bob = await member(addrs)
    const reservedOnBoth = (m: Member): boolean =>
      m.peer.services.relays.getRelays().every((r) => r.state === RelayState.Reserved)
    await waitFor(() => reservedOnBoth(alice) && reservedOnBoth(bob), 'reservations on both relays')

    const room = await alice.rooms.create('Failover')
    const invite = alice.rooms.invite(room, { base: 'https://app.example/' })
    const bobRoom = await bob.rooms.join(invite.link, invite.pin)
    const aliceDoc = await alice.sync.doc(room, 'notes')
    const bobDoc = await bob.sync.doc(bobRoom, 'notes')
    await waitFor(() => alice.sync.status(room).peers.length === 1, 'a sync link')

    await first.process.kill('SIGKILL')
    // the direct link drops while the first relay is dead (as on a network change). Aborted, not hung up: a graceful
    // close rejects with the stream's close event when a stream is opening at that moment (libp2p 3), and the
    // members redial each other within a second, so the drop is recorded as it happens rather than polled for
    let dropped = false
    alice.sync.addEventListener('status', () => {
      if (alice.sync.status(room).peers.length === 0) dropped = true
    })
    for (const connection of alice.peer.getConnections(bob.peer.peerId)) {
      connection.abort(new Error('the network changed'))
    }
    await waitFor(() => dropped, 'the link to go')
    aliceDoc.getText('body').insert(0, 'written after the first relay died')
    await waitFor(() => alice.sync.status(room).peers.length === 1, 'the link back, through the second relay')
    await waitFor(
      () => bobDoc.getText('body').toJSON() === 'written after the first relay died',
      'the edit at bob'
    )
    expect(bob.peer.getConnections(alice.peer.peerId).some((c) => c.limits == null)).toBe(true)
  })

  // flaky under a loaded CI machine (1 in ~4 full runs times out; cause not found yet): retried
  it(
    're-forms a link that dropped after the only relay died, through a member linked to both',
    { retry: 2 },
    async () => {
      const relay = await RelayFixture.start()
      relays.push(relay)
      const addrs = [relay.addr]
      const alice = await member(addrs, { relayForMembers: true })
      const bob = await member(addrs, { relayForMembers: true })
      const carol = await member(addrs, { relayForMembers: true })
      const reserved = (m: Member): boolean =>
        m.peer.services.relays.getRelays().every((r) => r.state === RelayState.Reserved)
      await waitFor(() => [alice, bob, carol].every(reserved), 'reservations on the relay')

      const room = await alice.rooms.create('No relay')
      const bobRoom = await join(alice, bob, room)
      const carolRoom = await join(alice, carol, room)
      const aliceDoc = await alice.sync.doc(room, 'notes')
      const bobDoc = await bob.sync.doc(bobRoom, 'notes')
      await carol.sync.doc(carolRoom, 'notes')
      const linked = (m: Member, r: typeof room): boolean => m.sync.status(r).peers.length === 2
      await waitFor(
        () => linked(alice, room) && linked(bob, bobRoom) && linked(carol, carolRoom),
        'a full mesh of sync links'
      )
      // nobody reserves on a member while the relay holds their reservations
      expect([alice, bob, carol].map((m) => m.peer.services.relays.getFallbackRelays())).toEqual([[], [], []])

      await relay.process.kill('SIGKILL')
      const fallbacks = (m: Member, ...on: Member[]): boolean =>
        on.every((o) => m.peer.services.relays.getFallbackRelays().includes(o.peer.peerId.toString()))
      await waitFor(
        () => fallbacks(alice, bob, carol) && fallbacks(bob, alice, carol) && fallbacks(carol, alice, bob),
        'reservations on the other members'
      )
      let dropped = false
      alice.sync.addEventListener('status', () => {
        if (!alice.sync.status(room).peers.includes(bob.peer.peerId.toString())) dropped = true
      })
      for (const connection of alice.peer.getConnections(bob.peer.peerId)) {
        connection.abort(new Error('the network changed'))
      }
      await waitFor(() => dropped, 'the link to go')
      aliceDoc.getText('body').insert(0, 'written with no relay at all')
      await waitFor(() => linked(alice, room), 'the link back, signaled through carol')
      await waitFor(
        () => bobDoc.getText('body').toJSON() === 'written with no relay at all',
        'the edit at bob'
      )
      // a direct connection again; the circuit through carol only carried its negotiation and is closed
      await waitFor(
        () =>
          alice.peer.getConnections(bob.peer.peerId).length === 1 &&
          alice.peer.getConnections(bob.peer.peerId).every((c) => c.limits == null),
        'only the direct connection left'
      )
    }
  )

  it('relays for members only: a stranger let in to redeem an invite gets no reservation and no circuit', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const alice = await member([relay.addr], { relayForMembers: true })
    // bob keeps no relay reservation of his own, so he falls back on the members he is linked to at once
    const bob = await member([relay.addr], { relayForMembers: true, peerRelays: [] })
    await waitFor(
      () => alice.peer.services.relays.getRelays()[0]?.state === RelayState.Reserved,
      'a reservation'
    )
    const room = await alice.rooms.create('Members only')
    await join(alice, bob, room)
    await waitFor(
      () => bob.peer.services.relays.getFallbackRelays().includes(alice.peer.peerId.toString()),
      "bob's reservation on alice"
    )

    // an open invite lets a stranger connect, to redeem it
    alice.rooms.invite(room, { base: 'https://app.example/' })
    const stranger = await startPeer({ listen: ['/webrtc'] })
    strangers.push(stranger)
    const denials: string[] = []
    alice.gater.addEventListener('denied', (event) => {
      if (event.detail.peer.equals(stranger.peerId)) denials.push(event.detail.hook)
    })
    await stranger.dial(multiaddr(`${relay.addr}/p2p-circuit/webrtc/p2p/${alice.peer.peerId.toString()}`))
    // (and the circuit that signaled it closed: a hop cannot be asked for over a circuit)
    await waitFor(
      () =>
        stranger.getConnections(alice.peer.peerId).length === 1 &&
        stranger.getConnections(alice.peer.peerId).every((c) => c.limits == null),
      'only a direct connection from the stranger'
    )
    stranger.services.relays.setFallbackRelays([alice.peer.peerId])
    await waitFor(() => denials.includes('reservation'), 'the reservation refused')
    expect(stranger.services.relays.getFallbackRelays()).toEqual([])

    // nor may it be relayed to a member who holds a reservation there
    await expect(
      stranger.dial(
        multiaddr(
          `/p2p/${alice.peer.peerId.toString()}/p2p-circuit/webrtc/p2p/${bob.peer.peerId.toString()}`
        ),
        {
          signal: AbortSignal.timeout(10_000)
        }
      )
    ).rejects.toThrow()
    expect(denials).toContain('relay')
    expect(stranger.getConnections(bob.peer.peerId)).toEqual([])
  })
})
