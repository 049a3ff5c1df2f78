import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIdentity, decode, encode } from '@kith/identity'
import {
  FileDocStore,
  MAX_FRAME_BYTES,
  SYNC_VERSION,
  Sync,
  encodeFrame,
  updateSigningInput
} from '@kith/sync'
import { InviteFlags, RoomGater, Rooms, dataKey, meshNeighbours, sealPacked } from '@kith/trust'
import { lpStream } from '@libp2p/utils'
import { afterAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { RelayFixture, reserved, startPeer, untilEvents } from './fixtures/nodes.ts'
import type { Identity } from '@kith/identity'
import type { KithPeer } from '@kith/peer'
import type { SyncError } from '@kith/sync'
import type { Room } from '@kith/trust'

interface Member {
  name: string
  identity: Identity
  peer: KithPeer
  gater: RoomGater
  rooms: Rooms
  sync: Sync
  rejected: Array<{ peer: string; code: string }>
}

describe('shared documents over real peers and a real relay', () => {
  const members: Member[] = []
  const dirs: string[] = []
  let relay: RelayFixture

  afterAll(async () => {
    await Promise.all(
      members.splice(0).map(async (m) => {
        await m.sync.stop()
        await m.rooms.stop()
        await m.peer.stop()
      })
    )
    await relay?.stop()
    await Promise.all(dirs.map(async (d) => rm(d, { recursive: true, force: true })))
  })

  /** Resolves once `predicate` holds, checked on every sync, room and connection event of every member. */
  async function waitFor(predicate: () => boolean, what: string, ms = 20_000): Promise<void> {
    await untilEvents(
      members.flatMap((m): Array<[EventTarget, readonly string[]]> => [
        [m.sync, ['status', 'synced', 'rejected']],
        [m.rooms, ['change']],
        [m.peer, ['connection:open', 'connection:close']]
      ]),
      predicate,
      ms,
      what
    )
  }

  async function member(name: string, store?: FileDocStore, meshDegree?: number): Promise<Member> {
    const identity = await createIdentity({ deviceName: name })
    const gater = new RoomGater()
    const peer = await startPeer({
      privateKey: identity.device,
      relays: [relay.addr],
      connectionGater: gater.gater
    })
    const rooms = new Rooms({
      peer,
      identity,
      gater,
      relays: () => [relay.addr],
      attestIntervalMs: 1_000,
      ...(meshDegree != null ? { meshDegree, fullMeshUpTo: meshDegree } : {})
    })
    await rooms.start()
    await reserved(peer)
    const sync = new Sync({ peer, rooms, identity, appId: 'it', store, antiEntropyMs: 2_000, confirmMs: 200 })
    await sync.start()
    const m: Member = { name, identity, peer, gater, rooms, sync, rejected: [] }
    sync.addEventListener('rejected', (event) => {
      m.rejected.push({ peer: event.detail.peer, code: event.detail.error.code })
    })
    members.push(m)
    return m
  }

  async function admit(inviter: Member, room: Room, newcomer: Member): Promise<Room> {
    const invite = inviter.rooms.invite(room, { base: 'https://app.example/', flags: InviteFlags.MayInvite })
    return newcomer.rooms.join(invite.link, invite.pin)
  }

  /**
   * Writes `frames` from `from` to `to` on a sync stream of its own, as a member could by hand, until `to` has refused
   * every one of them with `code`, all on one stream. A newer link to a peer replaces the older, so the sender's own
   * sync, relinking 500 ms after this stream displaced its link, may close the stream before `to` has read what it
   * carried (seen on a loaded machine). A stream that closes under the exchange is replaced by a new one, up to three
   * times; any other error, a wrong answer or a refusal that does not come fails at once.
   */
  async function refusedOnOwnStream(
    [from, to]: [Member, Member],
    roomId: string,
    frames: Uint8Array[],
    code: string
  ): Promise<void> {
    const refused = (): number =>
      to.rejected.filter((r) => r.code === code && r.peer === from.peer.peerId.toString()).length
    const closes: string[] = []
    for (let attempt = 1; attempt <= 3; attempt++) {
      const before = refused()
      const stream = await from.peer.dialProtocol(to.peer.peerId, to.sync.protocol, {
        signal: AbortSignal.timeout(10_000)
      })
      const lp = lpStream(stream, { maxDataLength: 2 * MAX_FRAME_BYTES })
      try {
        await lp.write(encode({ v: SYNC_VERSION, r: roomId }))
        const answer = decode((await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray(), 1024)
        expect(answer).toEqual({ v: SYNC_VERSION })
        for (const frame of frames) await lp.write(frame)
      } catch (err: unknown) {
        if (stream.status === 'open') throw err
        closes.push((err as Error).message)
      }
      await untilEvents(
        [
          [to.sync, ['rejected']],
          [stream, ['close']]
        ],
        () => refused() - before >= frames.length || stream.status !== 'open',
        20_000,
        `${frames.length} × ${code} from ${from.name}`
      )
      if (refused() - before >= frames.length) return
      closes.push(`closed (${stream.status}) after ${refused() - before} refusals`)
    }
    throw new Error(
      `${to.name} closed the stream before refusing ${frames.length} × ${code}: ${closes.join('; ')}`
    )
  }

  it('members catch up on a 10 MB document, edit live, refuse outsiders, removed members and bad messages, and keep what they stored', async () => {
    relay = await RelayFixture.start()
    const dir = await mkdtemp(join(tmpdir(), 'kith-sync-'))
    dirs.push(dir)
    const alice = await member('alice', new FileDocStore(dir))
    const bob = await member('bob')
    const carol = await member('carol')

    const room = await alice.rooms.create('Shared')
    const aliceDoc = await alice.sync.doc(room, 'notes')
    // ten megabytes of text, in 1,000 edits
    const line = `${'x'.repeat(10_000)}\n`
    for (let i = 0; i < 1_000; i++) aliceDoc.getText('body').insert(aliceDoc.getText('body').length, line)
    const size = Y.encodeStateAsUpdate(aliceDoc).byteLength
    expect(size).toBeGreaterThan(10_000_000)

    // bob joins and catches up: chunked, never one message past the frame limit
    const bobRoom = await admit(alice, room, bob)
    const started = performance.now()
    const bobDoc = await bob.sync.doc(bobRoom, 'notes')
    await waitFor(
      () => bobDoc.getText('body').length === aliceDoc.getText('body').length,
      'bob has 10 MB',
      30_000
    )
    const catchUpMs = performance.now() - started
    expect(bobDoc.getText('body').toJSON()).toBe(aliceDoc.getText('body').toJSON())
    expect(size / MAX_FRAME_BYTES).toBeGreaterThan(30)
    console.log(`catch-up of ${(size / 1e6).toFixed(1)} MB: ${catchUpMs.toFixed(0)} ms`)

    // carol joins through bob; live edits and presence reach everyone
    const carolRoom = await admit(bob, bobRoom, carol)
    const carolDoc = await carol.sync.doc(carolRoom, 'list')
    await waitFor(() => room.state.members.length === 3, 'alice sees carol')
    carolDoc.getArray<string>('items').push(['bread'])
    const aliceList = await alice.sync.doc(room, 'list')
    await waitFor(() => aliceList.getArray('items').toJSON().join() === 'bread', 'the list reaches alice')
    carol.sync.awareness(carolRoom).setLocalState({ name: 'carol', cursor: 3 })
    await waitFor(
      () => [...alice.sync.awareness(room).getStates().values()].some((s) => s.name === 'carol'),
      'carol present at alice'
    )
    await waitFor(() => carol.sync.status(carolRoom).unconfirmed === 0, 'carol’s edit confirmed')
    expect(carol.sync.status(carolRoom).state).toBe('online')

    // an outsider let in by an open invite cannot open a sync link: refused at the hello
    const dave = await member('dave')
    alice.rooms.invite(room, { base: 'https://app.example/' })
    const daveStream = await dave.peer.dialProtocol(alice.peer.peerId, alice.sync.protocol, {
      signal: AbortSignal.timeout(10_000)
    })
    const daveLp = lpStream(daveStream)
    await daveLp.write(encode({ v: SYNC_VERSION, r: room.id }))
    const refusal = decode((await daveLp.read({ signal: AbortSignal.timeout(5_000) })).subarray(), 1024)
    expect(refusal).toEqual({ e: 'NOT_MEMBER' })

    // malformed and oversized messages from a member: refused with typed errors, the link dropped, nothing lost
    const n = carolRoom.state.epoch.n
    const key = dataKey(await carolRoom.epochSecret(n), room.id, n)
    const aad = new TextEncoder().encode(`kith/sync/v2\n${room.id}`)
    await refusedOnOwnStream(
      [carol, alice],
      room.id,
      [
        sealPacked(key, n, new Uint8Array([9, 2, 3]), aad),
        new Uint8Array([0xff, 0x00]),
        sealPacked(key, n, encodeFrame({ t: 'sv', d: '../../etc', v: new Uint8Array(1), q: 1 }), aad)
      ],
      'MALFORMED'
    )
    // an unsigned update passed on by a member who is not its author: refused (only an author sends one unsigned,
    // straight to each device) and not applied
    const notBob = new Y.Doc()
    notBob.getText('body').insert(0, 'not from bob')
    const unsigned = { t: 'u', d: 'notes', o: bob.peer.peerId.toString(), s: new Uint8Array(0) } as const
    await refusedOnOwnStream(
      [carol, alice],
      room.id,
      [sealPacked(key, n, encodeFrame({ ...unsigned, b: Y.encodeStateAsUpdate(notBob) }), aad)],
      'BAD_SIGNATURE'
    )
    expect(aliceDoc.getText('body').toJSON()).not.toContain('not from bob')
    const oversized = await carol.peer.dialProtocol(alice.peer.peerId, alice.sync.protocol)
    const bigLp = lpStream(oversized, { maxDataLength: 2 * MAX_FRAME_BYTES })
    await bigLp.write(encode({ v: SYNC_VERSION, r: room.id }))
    await bigLp.read({ signal: AbortSignal.timeout(5_000) })
    await bigLp.write(new Uint8Array(MAX_FRAME_BYTES + 1)).catch(() => undefined)
    // alice drops the link: reading (past the messages she sent first) ends in a reset, not a timeout
    const ended = await (async () => {
      for (;;) await bigLp.read({ signal: AbortSignal.timeout(5_000) })
    })().catch((err: Error) => err.name)
    expect(ended).not.toMatch(/Timeout|Abort/)
    expect(aliceDoc.getText('body').length).toBe(bobDoc.getText('body').length)

    // removal: bob is out; an update he signs afterwards is refused even when a member forwards it
    await alice.rooms.get(room.id)?.remove(bobRoom.me?.user as Uint8Array)
    await waitFor(() => carolRoom.state.members.length === 2, 'carol sees the removal')
    const sneaky = new Y.Doc()
    sneaky.getArray('items').push(['from bob, after his removal'])
    const update = Y.encodeStateAsUpdate(sneaky)
    const signature = await bob.identity.device.sign(updateSigningInput(room.id, 'list', update))
    const forwarded = carol.sync.replica(carolRoom).receive(alice.peer.peerId.toString(), {
      t: 'u',
      d: 'list',
      o: bob.peer.peerId.toString(),
      s: signature,
      b: update
    })
    await expect(forwarded).rejects.toMatchObject({ code: 'NOT_MEMBER' } satisfies Partial<SyncError>)
    expect(carolDoc.getArray('items').toJSON()).toEqual(['bread'])
    await waitFor(
      () => bob.sync.status(bobRoom).peers.length === 0 || bobRoom.me == null,
      'bob’s links closed'
    )

    // battery mode: carol sleeps (links dropped), edits, wakes on that edit and merges
    carol.sync.sleep()
    expect(carol.sync.status(carolRoom).state).toBe('asleep')
    aliceList.getArray<string>('items').push(['milk'])
    carolDoc.getArray<string>('items').push(['eggs'])
    await waitFor(
      () =>
        [aliceList, carolDoc].every((d) =>
          ['bread', 'eggs', 'milk'].every((i) => d.getArray('items').toJSON().includes(i))
        ),
      'both edits everywhere after waking'
    )

    // alice restarts her sync: the stored document is there before any peer answers
    const length = aliceDoc.getText('body').length
    await alice.sync.stop()
    const again = new Sync({
      peer: alice.peer,
      rooms: alice.rooms,
      identity: alice.identity,
      appId: 'it2',
      store: new FileDocStore(dir)
    })
    const reloaded = await again.doc(room, 'notes')
    expect(reloaded.getText('body').length).toBe(length)
    await again.stop()
  })

  it('a newcomer whose inviter is no mesh neighbour links to the inviter to catch up, then keeps to its mesh', async () => {
    // degree 2 with five devices: a ring, each linked to the two beside it; the newcomer's inviter sits across
    const founder = await member('ring-a', undefined, 2)
    const others = [
      await member('ring-b', undefined, 2),
      await member('ring-c', undefined, 2),
      await member('ring-d', undefined, 2)
    ]
    const room = await founder.rooms.create('Ring')
    const roomOf = new Map<Member, Room>([[founder, room]])
    for (const m of others) roomOf.set(m, await admit(founder, room, m))
    await waitFor(() => [...roomOf.values()].every((r) => r.state.members.length === 4), 'four members')
    const doc = await founder.sync.doc(room, 'notes')
    doc.getText('body').insert(0, 'x'.repeat(200_000))
    const newcomer = await member('ring-new', undefined, 2)
    const devices = [...roomOf.keys(), newcomer].map((m) => m.peer.peerId.toString())
    const newcomerId = newcomer.peer.peerId.toString()
    const inviter = [...roomOf.keys()].find(
      (m) => !meshNeighbours(room.id, newcomerId, devices, { degree: 2 }).includes(m.peer.peerId.toString())
    ) as Member
    // every link the newcomer's sync holds, as it changes
    const seen = new Set<string>()
    newcomer.sync.addEventListener('status', () => {
      if (newcomer.rooms.get(room.id) != null)
        for (const p of newcomer.sync.status(room.id).peers) seen.add(p)
    })
    const joined = await admit(inviter, roomOf.get(inviter) as Room, newcomer)
    const notes = await newcomer.sync.doc(joined, 'notes')
    await waitFor(() => notes.getText('body').length === 200_000, 'the newcomer caught up', 30_000)
    const inviterId = inviter.peer.peerId.toString()
    await waitFor(() => seen.has(inviterId), 'a link to the inviter')
    // once it has links to its mesh neighbours, the link to the inviter goes
    const neighbours = meshNeighbours(room.id, newcomerId, devices, { degree: 2 })
    await waitFor(
      () => {
        const peers = newcomer.sync.status(joined).peers
        return !peers.includes(inviterId) && neighbours.every((n) => peers.includes(n))
      },
      'links to the mesh neighbours only',
      30_000
    )
  }, 90_000)
})
