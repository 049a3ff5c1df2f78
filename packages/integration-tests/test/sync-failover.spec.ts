import { createIdentity } from '@kith/identity'
import { RelayState } from '@kith/peer'
import { Sync } from '@kith/sync'
import { RoomGater, Rooms } from '@kith/trust'
import { afterEach, describe, expect, it } from 'vitest'
import { RelayFixture, startPeer, untilEvents } from './fixtures/nodes.ts'
import type { KithPeer } from '@kith/peer'

interface Member {
  peer: KithPeer
  rooms: Rooms
  sync: Sync
}

describe('shared documents when a relay dies', () => {
  const members: Member[] = []
  const relays: RelayFixture[] = []

  afterEach(async () => {
    await Promise.all(
      members.splice(0).map(async (m) => {
        await m.sync.stop()
        await m.rooms.stop()
        await m.peer.stop()
      })
    )
    await Promise.all(relays.splice(0).map(async (r) => r.stop()))
  })

  async function waitFor(predicate: () => boolean, what: string, ms = 20_000): Promise<void> {
    await untilEvents(
      members.flatMap((m): Array<[EventTarget, readonly string[]]> => [
        [m.sync, ['status']],
        [m.peer, ['connection:open', 'connection:close']],
        [m.peer.services.relays, ['relay:status']]
      ]),
      predicate,
      ms,
      what
    )
  }

  async function member(addrs: string[]): Promise<Member> {
    const identity = await createIdentity({ deviceName: 'member' })
    const gater = new RoomGater()
    const peer = await startPeer({ privateKey: identity.device, relays: addrs, connectionGater: gater.gater })
    const rooms = new Rooms({ peer, identity, gater, relays: () => addrs, attestIntervalMs: 1_000 })
    await rooms.start()
    const sync = new Sync({ peer, rooms, identity, appId: 'it', antiEntropyMs: 2_000, confirmMs: 200 })
    await sync.start()
    const m = { peer, rooms, sync }
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
})
