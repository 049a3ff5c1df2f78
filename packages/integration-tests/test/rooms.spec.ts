import { AsyncLocalStorage } from 'node:async_hooks'
import { createConnection, createServer } from 'node:net'
import { createIdentity } from '@kith/identity'
import { InviteFlags, meshTargets, readInviteLink, ROOM_PROTOCOL, RoomGater, Rooms } from '@kith/trust'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { RelayFixture, reserved, startPeer, untilEvents } from './fixtures/nodes.ts'
import type { Identity } from '@kith/identity'
import type { KithPeer } from '@kith/peer'
import type { Room } from '@kith/trust'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Server, Socket } from 'node:net'

interface Member {
  identity: Identity
  peer: KithPeer
  gater: RoomGater
  rooms: Rooms
}

/** A TCP proxy in front of the relay that keeps every byte it forwards: what the relay operator could see. */
async function tap(
  target: number
): Promise<{ port: number; bytes: () => Buffer; close: () => Promise<void> }> {
  const chunks: Buffer[] = []
  const sockets: Socket[] = []
  const server: Server = createServer((client) => {
    const upstream = createConnection(target)
    sockets.push(client, upstream)
    client.on('data', (d: Buffer) => chunks.push(d))
    upstream.on('data', (d: Buffer) => chunks.push(d))
    client.pipe(upstream).pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    bytes: () => Buffer.concat(chunks),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** Whether two copies of a room hold the same log. */
function equalLogs(a: Room, b: Room): boolean {
  return a.hashes().length === b.hashes().length && a.hashes().every((h) => b.has(h))
}

describe('rooms over real peers and a real relay', () => {
  const members: Member[] = []
  const relays: RelayFixture[] = []
  const closers: Array<() => Promise<void>> = []

  afterAll(async () => {
    await Promise.all(
      members.splice(0).map(async (m) => {
        await m.rooms.stop()
        await m.peer.stop()
      })
    )
    await Promise.all(closers.splice(0).map(async (c) => c()))
    await Promise.all(relays.splice(0).map(async (r) => r.stop()))
  })

  /** Resolves once `predicate` holds, checking it on every room, connection and gater event of every member. */
  async function waitFor(predicate: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
    await untilEvents(
      members.flatMap((m): Array<[EventTarget, readonly string[]]> => [
        [m.rooms, ['change']],
        [m.gater, ['denied']],
        [m.peer, ['connection:open', 'connection:close']]
      ]),
      predicate,
      ms,
      what
    )
  }

  async function member(
    name: string,
    relay: string,
    listen = ['/webrtc'],
    mesh: {
      attestIntervalMs?: number
      meshDegree?: number
      fullMeshUpTo?: number
      meshPruneAfterMs?: number
      inviteTimeoutMs?: number
    } = {}
  ): Promise<Member> {
    const identity = await createIdentity({ deviceName: name })
    const gater = new RoomGater()
    const peer = await startPeer({
      privateKey: identity.device,
      relays: [relay],
      listen,
      connectionGater: gater.gater
    })
    const rooms = new Rooms({ peer, identity, gater, relays: () => [relay], attestIntervalMs: 500, ...mesh })
    await rooms.start()
    await reserved(peer)
    const m = { identity, peer, gater, rooms }
    members.push(m)
    return m
  }

  /** Alice and bob through a new relay, in a room alice created and bob joined, once their logs agree. */
  async function twoInARoom(
    name: string,
    flags?: number
  ): Promise<{ alice: Member; bob: Member; room: Room; bobRoom: Room }> {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const alice = await member('alice', relay.addr)
    const bob = await member('bob', relay.addr)
    const room = await alice.rooms.create(name)
    const invite = alice.rooms.invite(room, {
      base: 'https://app.example/',
      ...(flags != null ? { flags } : {})
    })
    const bobRoom = await bob.rooms.join(invite.link, invite.pin)
    await waitFor(() => equalLogs(room, bobRoom) && room.state.members.length === 2, 20_000, 'one log')
    return { alice, bob, room, bobRoom }
  }

  /** Alice, bob and carol through a new relay, in a room alice created and both others joined, once logs agree. */
  async function threeInARoom(
    name: string,
    mesh?: Parameters<typeof member>[3]
  ): Promise<{ alice: Member; bob: Member; carol: Member; room: Room; bobRoom: Room; carolRoom: Room }> {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const alice = await member('alice', relay.addr, undefined, mesh)
    const bob = await member('bob', relay.addr, undefined, mesh)
    const carol = await member('carol', relay.addr, undefined, mesh)
    const room = await alice.rooms.create(name)
    const invite = (): [string, string] => {
      const { link, pin } = alice.rooms.invite(room, { base: 'https://app.example/' })
      return [link, pin]
    }
    const bobRoom = await bob.rooms.join(...invite())
    const carolRoom = await carol.rooms.join(...invite())
    await waitFor(
      () => equalLogs(room, bobRoom) && equalLogs(room, carolRoom) && room.state.members.length === 3,
      20_000,
      'one log'
    )
    return { alice, bob, carol, room, bobRoom, carolRoom }
  }

  /**
   * Until `to` holds an attestation of `from` that lists `listing`: ticks both (as the periodic tick would: it dials
   * lost links again) and syncs. A WebRTC link the test saw open may be one the dialer gave up on, closed a moment later.
   */
  async function untilHeard(
    [from, fromRoom]: [Member, Room],
    [to, toRoom]: [Member, Room],
    listing: Member[]
  ): Promise<void> {
    const heard = (): boolean => {
      const said = to.rooms.attested(toRoom).find((a) => a.deviceId.equals(from.peer.peerId))
      return listing.every((m) => said?.peers.includes(m.peer.peerId.toString()) === true)
    }
    const deadline = Date.now() + 20_000
    while (!heard()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for one member to hear the other attest')
      from.rooms.tick()
      to.rooms.tick()
      await from.rooms.syncWith(fromRoom, to.peer.peerId)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  it('three peers form a room by invitation through a tapped relay; outsiders are refused on every path; a removed member loses access', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const port = Number(/\/tcp\/(\d+)\//.exec(relay.addr)?.[1])
    const proxy = await tap(port)
    closers.push(proxy.close)
    const via = relay.addr.replace(`/tcp/${port}/`, `/tcp/${proxy.port}/`)

    const alice = await member('alice', via, ['/ip4/127.0.0.1/tcp/0', '/webrtc'])
    const bob = await member('bob', via)
    const carol = await member('carol', via)
    const dave = await member('dave', via)

    const room = await alice.rooms.create('Trip')
    const toBob = alice.rooms.invite(room, { base: 'https://app.example/', flags: InviteFlags.MayInvite })
    expect(readInviteLink(toBob.link).relays).toEqual([via])
    const started = performance.now()
    const bobRoom = await bob.rooms.join(toBob.link, toBob.pin)
    const joinMs = performance.now() - started
    expect(bobRoom.id).toBe(room.id)

    const toCarol = bob.rooms.invite(bobRoom, { base: 'https://app.example/' })
    const carolRoom = await carol.rooms.join(toCarol.link, toCarol.pin)
    for (const r of [room, bobRoom, carolRoom]) {
      await waitFor(() => r.state.members.length === 3, 20_000, 'three members everywhere')
    }
    expect(room.state.members.map((m) => m.name)).toEqual(['alice', 'bob', 'carol'])
    // carol reaches alice directly: members connect to each other
    await waitFor(() => carol.peer.getConnections(alice.peer.peerId).length > 0, 20_000, 'carol ↔ alice')
    const sealed = await room.seal(new TextEncoder().encode('for members'))
    expect(new TextDecoder().decode(await carolRoom.open(sealed))).toBe('for members')

    // attack 27: an outsider, through the relay and on a direct TCP dial, is refused by the gater
    const outsider = await dave.peer.dial(alice.peer.peerId, { signal: AbortSignal.timeout(8_000) }).then(
      (c) =>
        `connected ${c.remoteAddr.toString()} ${JSON.stringify(alice.gater.denials.map((d) => d.hook))} ${String(room.hasHeldInvites())}`,
      (err: Error) => err.name
    )
    expect(outsider).not.toMatch(/^connected/)
    expect(alice.gater.denials.map((d) => d.hook)).toContain('relayed')
    const tcp = alice.peer
      .getMultiaddrs()
      .find((a) => a.toString().includes('/tcp/') && !a.toString().includes('p2p-circuit'))
    expect(tcp).toBeDefined()
    // the dialer may finish its side before the listener's verdict (optimistic muxer selection); alice then cuts it
    await dave.peer.dial(tcp as never, { signal: AbortSignal.timeout(8_000) }).catch(() => undefined)
    await waitFor(
      () => alice.gater.denials.some((d) => d.peer.equals(dave.peer.peerId) && d.hook === 'encrypted'),
      10_000,
      'the encrypted-stage denial'
    )
    await waitFor(() => dave.peer.getConnections(alice.peer.peerId).length === 0, 10_000, 'dave cut off')
    expect(alice.peer.getConnections(dave.peer.peerId)).toEqual([])

    // attack 27: a peer that got in (an open invite lets strangers connect) cannot use the room protocol
    alice.rooms.invite(room, { base: 'https://app.example/' })
    const stream = await dave.peer.dialProtocol(alice.peer.peerId, ROOM_PROTOCOL, {
      signal: AbortSignal.timeout(10_000)
    })
    const refused = new Promise((resolve) => alice.rooms.addEventListener('refused', resolve, { once: true }))
    const { encode } = await import('@kith/identity')
    const { lpStream } = await import('@libp2p/utils')
    const lp = lpStream(stream)
    await lp.write(encode({ t: 'sync', room: room.id, have: [], nb: [] }))
    const reply = await lp.read({ signal: AbortSignal.timeout(5_000) })
    expect(new TextDecoder().decode(reply.subarray())).toContain('NOT_MEMBER')
    await refused

    // removal: bob is removed, his connections to alice close, the new epoch is closed to him
    await alice.rooms.get(room.id)?.remove(bobRoom.me?.user as Uint8Array)
    await waitFor(() => carolRoom.state.members.length === 2, 20_000, 'carol sees the removal')
    await waitFor(() => alice.peer.getConnections(bob.peer.peerId).length === 0, 20_000, 'alice drops bob')
    const after = await room.seal(new TextEncoder().encode('after bob'))
    await expect(bobRoom.open(after)).rejects.toMatchObject({ code: 'NO_KEY' })
    expect(new TextDecoder().decode(await carolRoom.open(after))).toBe('after bob')

    // topology: the members attest each other; dave (connected to alice for the invite window) shows as an outsider
    await waitFor(() => alice.rooms.topology(room).edges.some((e) => e.mutual), 10_000, 'a mutual edge')

    // carol leaves: alice, the most senior admin, starts a new epoch on her own
    carolRoom.leave()
    await waitFor(
      () => room.state.members.length === 1 && room.state.epoch.n === 3,
      20_000,
      'rotation after a leave'
    )
    await expect(carolRoom.open(await room.seal(new Uint8Array([1])))).rejects.toMatchObject({
      code: 'NO_KEY'
    })

    // attack 19: the relay's traffic never holds the PIN, the link's secret, its fragment or an epoch secret
    const seen = proxy.bytes()
    expect(seen.byteLength).toBeGreaterThan(1_000)
    const invite = readInviteLink(toBob.link)
    for (const secret of [
      Buffer.from(toBob.pin),
      Buffer.from(toCarol.pin),
      Buffer.from(invite.secret),
      Buffer.from(toBob.link.split('#')[1] as string),
      Buffer.from(Buffer.from(invite.secret).toString('base64url')),
      Buffer.from(await room.epochSecret(1)),
      Buffer.from(await room.epochSecret(2)),
      Buffer.from(await room.epochSecret(3))
    ]) {
      expect(seen.includes(secret)).toBe(false)
    }
    console.info(`invite link → member: ${joinMs.toFixed(0)} ms`)
  }, 120_000)

  it('dials the mesh neighbours a newcomer gives a member when the room changes, not at the next tick', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    // no tick during the test: only the room's change can make the dials
    const mesh = { attestIntervalMs: 600_000, meshDegree: 2, fullMeshUpTo: 2 }
    const alice = await member('alice', relay.addr, ['/webrtc'], mesh)
    const bob = await member('bob', relay.addr, ['/webrtc'], mesh)
    const carol = await member('carol', relay.addr, ['/webrtc'], mesh)
    const dave = await member('dave', relay.addr, ['/webrtc'], mesh)
    const room = await alice.rooms.create('Ring')
    const admit = async (inviter: Member, at: Room, newcomer: Member): Promise<Room> => {
      const invite = inviter.rooms.invite(at, { base: 'https://app.example/', flags: InviteFlags.MayInvite })
      return newcomer.rooms.join(invite.link, invite.pin)
    }
    const bobRoom = await admit(alice, room, bob)
    const carolRoom = await admit(alice, room, carol)
    await waitFor(() => bobRoom.state.members.length === 3, 20_000, 'carol known to bob')
    // four devices, degree 2: each dials its successor on the ring. Dave's predecessor must dial him; let someone
    // else invite him, so the only dial of that link is the predecessor's, made when it learns of dave
    const devices = [alice, bob, carol, dave].map((m) => m.peer.peerId.toString())
    const rule = { degree: mesh.meshDegree }
    const predecessor = [alice, bob, carol].find((m) =>
      meshTargets(room.id, m.peer.peerId.toString(), devices, rule).includes(devices[3] as string)
    )
    const inviter = [alice, bob, carol].find((m) => m !== predecessor) as Member
    const inviterRoom = inviter === alice ? room : inviter === bob ? bobRoom : carolRoom
    const daveRoom = await admit(inviter, inviterRoom, dave)
    const rooms = new Map<Member, Room>([
      [alice, room],
      [bob, bobRoom],
      [carol, carolRoom],
      [dave, daveRoom]
    ])
    await waitFor(
      () => [...rooms].every(([, r]) => r.state.members.length === 4),
      20_000,
      'four members everywhere'
    )
    // every device holds a connection to each device it dials by the rule, well before a tick
    await waitFor(
      () =>
        [...rooms].every(([m, r]) =>
          m.rooms.meshOf(r).every((target) => m.peer.getConnections(target).length > 0)
        ),
      10_000,
      'every mesh link up'
    )
    expect(predecessor == null || predecessor.peer.getConnections(dave.peer.peerId).length > 0).toBe(true)
  }, 90_000)

  it('syncs the room log by digest: no entry hashes between devices that hold the same log, all of them otherwise', async () => {
    const { alice, bob, room, bobRoom } = await twoInARoom('Digest')
    const { decode, encode } = await import('@kith/identity')
    const { lpStream } = await import('@libp2p/utils')
    /** One room-protocol exchange from bob to alice, by hand; resolves with alice's reply. */
    const exchange = async (request: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const stream = await bob.peer.dialProtocol(alice.peer.peerId, ROOM_PROTOCOL, {
        signal: AbortSignal.timeout(10_000)
      })
      const lp = lpStream(stream)
      await lp.write(encode({ t: 'sync', room: room.id, nb: [], ...request }))
      const reply = decode((await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray(), 8 << 20)
      await lp.write(encode({ t: 'entries', entries: [] }))
      await stream.close()
      return reply as Record<string, unknown>
    }
    // the same log: alice lists nothing back, and her digest is bob's
    const same = await exchange({ hd: bobRoom.digest() })
    expect(same.have).toBeUndefined()
    expect(same.entries).toEqual([])
    expect(same.hd).toEqual(bobRoom.digest())
    // a log alice does not hold: she lists every hash, so the dialer can send what she lacks and ask for the rest
    const other = await exchange({ hd: new Uint8Array(32) })
    expect(new Set(other.have as string[])).toEqual(new Set(room.hashes()))
    // a dialer that lists its hashes (and one that leaves its digest out, as before digests) gets what it lacks
    const listed = await exchange({ have: [] })
    expect((listed.entries as Uint8Array[]).length).toBe(room.hashes().length)
    // and with nothing listed and no digest, the request is refused
    await expect(exchange({})).rejects.toThrow()
    // a new entry at alice reaches bob by the sync it triggers
    const entries = room.hashes().length
    alice.rooms.invite(room, { base: 'https://app.example/' })
    expect(room.hashes().length).toBe(entries + 1)
    await waitFor(() => equalLogs(room, bobRoom), 20_000, 'the invite reaches bob')
  })

  it('leaves the periodic sync of two devices whose logs agree to the lower peer id, and syncs both ways again after a change', async () => {
    // bob may invite too, so either of them can change the log below
    const { alice, bob, room, bobRoom } = await twoInARoom('Quiet', InviteFlags.MayInvite)
    const [low, high] = [alice, bob].sort((a, b) =>
      a.peer.peerId.toString() < b.peer.peerId.toString() ? -1 : 1
    ) as [Member, Member]
    // syncs each device starts, and the room-protocol streams it opens for them
    const syncs = new Map<Member, number>()
    const dials = new Map<Member, number>()
    for (const m of [low, high]) {
      syncs.set(m, 0)
      dials.set(m, 0)
      const syncWith = m.rooms.syncWith.bind(m.rooms)
      m.rooms.syncWith = async (...args: Parameters<typeof syncWith>) => {
        syncs.set(m, (syncs.get(m) ?? 0) + 1)
        return syncWith(...args)
      }
      const dial = m.peer.dialProtocol.bind(m.peer)
      m.peer.dialProtocol = async (...args: Parameters<typeof dial>) => {
        if (args[1] === ROOM_PROTOCOL) dials.set(m, (dials.get(m) ?? 0) + 1)
        return dial(...args)
      }
    }
    const lowSynced = async (n: number): Promise<void> =>
      vi.waitFor(() => expect(syncs.get(low)).toBeGreaterThanOrEqual(n), { timeout: 10_000, interval: 50 })
    // ticks every 500 ms: once what the join left in flight has settled, three of the lower id's rounds of a quiet
    // room pass without a sync from the higher id, on the stream the lower id keeps (looked at over up to four
    // windows; without the rule the higher id syncs every round, and without kept streams each sync dials, so no
    // window is quiet)
    for (let window = 0; window < 4; window++) {
      for (const m of [low, high]) {
        syncs.set(m, 0)
        dials.set(m, 0)
      }
      await lowSynced(3)
      if (syncs.get(high) === 0 && dials.get(low) === 0) break
    }
    expect(syncs.get(low)).toBeGreaterThanOrEqual(3)
    expect(syncs.get(high)).toBe(0)
    // the lower id runs those syncs on the stream it keeps open: no new stream (a data channel on WebRTC) each round
    expect(dials.get(low)).toBe(0)
    // the higher id's log moves on: it pushes the change itself, and both logs agree again
    const highRoom = high === alice ? room : bobRoom
    const lowRoom = high === alice ? bobRoom : room
    const entries = lowRoom.hashes().length
    high.rooms.invite(highRoom, { base: 'https://app.example/' })
    await waitFor(() => lowRoom.hashes().length === entries + 1, 10_000, 'the change to reach the lower id')
    expect(syncs.get(high)).toBeGreaterThanOrEqual(1)
  }, 60_000)

  it('never sends a member back an attestation that member sent it', async () => {
    const { alice, bob, carol } = await threeInARoom('Echo')
    // every attestation (by its bytes) each device got from each peer, once taken in, and what it sent each peer;
    // the peer of an exchange is followed through its awaits to the private methods that take in and send out
    const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
    const exchangeWith = new AsyncLocalStorage<string>()
    const received = new Map<string, Set<string>>()
    const echoes: string[] = []
    let sent = 0
    for (const m of [alice, bob, carol]) {
      const me = m.peer.peerId.toString()
      const rooms = m.rooms as unknown as {
        syncWith: (room: Room, peer: { toString(): string }, ...rest: unknown[]) => Promise<void>
        answerSync: (first: Uint8Array, channel: unknown, connection: Connection) => Promise<boolean>
        absorb: (room: Room, message: { nb?: Uint8Array[] }, ...rest: unknown[]) => Promise<void>
        attestationsFor: (room: Room, peer: { toString(): string }, ...rest: unknown[]) => Uint8Array[]
      }
      const syncWith = rooms.syncWith.bind(rooms)
      rooms.syncWith = async (r, peer, ...rest) =>
        exchangeWith.run(peer.toString(), () => syncWith(r, peer, ...rest))
      const answerSync = rooms.answerSync.bind(rooms)
      rooms.answerSync = async (first, channel, connection) =>
        exchangeWith.run(connection.remotePeer.toString(), () => answerSync(first, channel, connection))
      const absorb = rooms.absorb.bind(rooms)
      rooms.absorb = async (r, message, ...rest) => {
        const from = exchangeWith.getStore()
        await absorb(r, message, ...rest)
        if (from == null) return
        const got = received.get(`${me}\n${from}`) ?? new Set<string>()
        received.set(`${me}\n${from}`, got)
        for (const bytes of message.nb ?? []) got.add(hex(bytes))
      }
      const attestationsFor = rooms.attestationsFor.bind(rooms)
      rooms.attestationsFor = (r, peer, ...rest) => {
        const out = attestationsFor(r, peer, ...rest)
        const got = received.get(`${me}\n${peer.toString()}`)
        for (const bytes of out) if (got?.has(hex(bytes)) === true) echoes.push(`${me} → ${peer.toString()}`)
        sent += out.length
        return out
      }
    }
    // three devices attesting every 500 ms: each one's attestation reaches the others directly and through the third
    await vi.waitFor(() => expect(sent).toBeGreaterThanOrEqual(40), { timeout: 20_000, interval: 100 })
    expect(echoes).toEqual([])
  }, 60_000)

  it('attests a lost link to a mesh neighbour at once, sends it to the members it is linked to, and dials it again', async () => {
    // no periodic ticks: attestations come only from the explicit tick below and from the lost link
    const { alice, bob, carol, bobRoom, carolRoom } = await threeInARoom('Lost link', {
      attestIntervalMs: 600_000
    })
    const bobId = bob.peer.peerId
    const bobSaid = (): { at: number; peers: string[] } | undefined =>
      carol.rooms.attested(carolRoom).find((a) => a.deviceId.equals(bobId))
    // bob attests his links to alice and carol, and carol hears it (his tick may leave the sync to her, so he syncs)
    await untilHeard([bob, bobRoom], [carol, carolRoom], [alice, carol])
    const before = bobSaid()?.at ?? 0
    await bob.peer.hangUp(alice.peer.peerId)
    // carol, whom bob is still linked to, hears bob's new word within a second or so, not at the next tick
    await vi.waitFor(() => expect(bobSaid()?.at ?? 0).toBeGreaterThan(before), {
      timeout: 5_000,
      interval: 50
    })
    // and the two neighbours link again at once (by the mesh rule, the lower id dials), not at the next tick
    const linked = (): boolean =>
      bob.peer.getConnections(alice.peer.peerId).some((c) => c.limits == null && c.status === 'open')
    await waitFor(linked, 5_000, 'bob and alice linked again')
  }, 60_000)

  it('sends attestations again after a sync that carried them failed, on a retry and on the next sync', async () => {
    const { bob, carol, bobRoom, carolRoom } = await threeInARoom('Failed sync', {
      attestIntervalMs: 600_000
    })
    const carolId = carol.peer.peerId
    await untilHeard([bob, bobRoom], [carol, carolRoom], [carol])
    const bobSaid = (): number =>
      carol.rooms.attested(carolRoom).find((a) => a.deviceId.equals(bob.peer.peerId))?.at ?? 0
    type Exchange = (channel: {
      read: () => Promise<Uint8Array>
      write: (b: Uint8Array) => Promise<void>
    }) => Promise<unknown>
    const sessions = (
      bob.rooms as unknown as {
        sessions: { run: (peer: PeerId, signal: AbortSignal, exchange: Exchange) => Promise<unknown> }
      }
    ).sessions
    const run = sessions.run.bind(sessions)
    const broken = {
      read: async (): Promise<Uint8Array> => Promise.reject(new Error('the stream broke')),
      write: async (): Promise<void> => Promise.reject(new Error('the stream broke'))
    }
    // 1. an exchange breaks on a kept stream and runs again on a new one (what RoomSessions.run does)
    let retries = 0
    sessions.run = async (peer, signal, exchange) => {
      if (peer.equals(carolId)) {
        retries++
        await exchange(broken).catch(() => undefined)
      }
      return run(peer, signal, exchange)
    }
    const before = bobSaid()
    bob.rooms.tick()
    await bob.rooms.syncWith(bobRoom, carolId)
    expect(retries).toBeGreaterThanOrEqual(1)
    await vi.waitFor(() => expect(bobSaid()).toBeGreaterThan(before), { timeout: 5_000, interval: 50 })
    // 2. a whole sync fails: the next one carries what it did
    sessions.run = async (peer, signal, exchange) => {
      if (peer.equals(carolId)) {
        await exchange(broken)
      }
      return run(peer, signal, exchange)
    }
    const second = bobSaid()
    await new Promise((resolve) => setTimeout(resolve, 5))
    bob.rooms.tick()
    await bob.rooms.syncWith(bobRoom, carolId)
    sessions.run = run
    expect(bobSaid()).toBe(second)
    await bob.rooms.syncWith(bobRoom, carolId)
    await vi.waitFor(() => expect(bobSaid()).toBeGreaterThan(second), { timeout: 5_000, interval: 50 })
  }, 60_000)

  it('closes the connections an inviter holds to members that are not its mesh neighbours, and keeps the others', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const mesh = { attestIntervalMs: 500, meshDegree: 2, fullMeshUpTo: 2, meshPruneAfterMs: 2_000 }
    const host = await member('host', relay.addr, ['/webrtc'], mesh)
    const guests = [
      await member('g1', relay.addr, ['/webrtc'], mesh),
      await member('g2', relay.addr, ['/webrtc'], mesh),
      await member('g3', relay.addr, ['/webrtc'], mesh),
      await member('g4', relay.addr, ['/webrtc'], mesh)
    ]
    const room = await host.rooms.create('Pruned')
    for (const guest of guests) {
      const invite = host.rooms.invite(room, { base: 'https://app.example/' })
      await guest.rooms.join(invite.link, invite.pin)
    }
    await waitFor(() => room.state.members.length === 5, 20_000, 'five members')
    // five devices, degree 2: the host keeps its two ring neighbours; the two others it let in are let go
    const isNeighbour = (peer: KithPeer): boolean =>
      host.rooms.meshNeighboursOf(room).some((id) => id.equals(peer.peerId))
    const direct = (peer: KithPeer): number =>
      host.peer.getConnections(peer.peerId).filter((c) => c.limits == null).length
    expect(guests.filter((g) => !isNeighbour(g.peer))).toHaveLength(2)
    await waitFor(
      () => guests.every((g) => (isNeighbour(g.peer) ? direct(g.peer) > 0 : direct(g.peer) === 0)),
      20_000,
      'only neighbours left connected to the host'
    )
    // and they stay that way: the host's neighbours are still connected after more pruning rounds (each tick
    // attests, then prunes; the host's own attestation shows its ticks)
    const settled = Date.now()
    const hostId = host.peer.peerId.toString()
    await waitFor(
      () => host.rooms.attested(room).some((a) => a.deviceId.toString() === hostId && a.at > settled + 2_000),
      20_000,
      'two more of the host ticks'
    )
    expect(guests.filter((g) => direct(g.peer) > 0).map((g) => isNeighbour(g.peer))).toEqual([true, true])
    // a room sync with a member it holds no connection to does not dial one (a sync queued behind another, run
    // after the prune, used to dial the pruned member back)
    const pruned = guests.filter((g) => !isNeighbour(g.peer))
    await Promise.all(pruned.map(async (g) => host.rooms.syncWith(room, g.peer.peerId)))
    expect(pruned.map((g) => direct(g.peer))).toEqual([0, 0])
  }, 90_000)
  it('tells the inviter when an exchange it answered fails, with the code the newcomer got', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const alice = await member('alice', relay.addr)
    const bob = await member('bob', relay.addr)
    const room = await alice.rooms.create('Errors')
    const errors: Array<{ peer: string; code: string }> = []
    alice.rooms.addEventListener('invite:error', (event) => {
      errors.push({ peer: event.detail.peer.toString(), code: event.detail.error.code })
    })
    const invite = alice.rooms.invite(room, { base: 'https://app.example/' })
    const wrong = invite.pin === '000000' ? '111111' : '000000'
    await expect(bob.rooms.join(invite.link, wrong)).rejects.toMatchObject({ code: 'WRONG_PIN' })
    await waitFor(() => errors.length > 0, 10_000, 'the inviter hears of it')
    expect(errors).toEqual([{ peer: bob.peer.peerId.toString(), code: 'WRONG_PIN' }])
    // the right PIN still works, and raises nothing
    await bob.rooms.join(invite.link, invite.pin)
    expect(errors).toHaveLength(1)
  }, 60_000)

  it('lets in a newcomer whose welcome was lost after its admission, and one that redeems its used link again', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const alice = await member('alice', relay.addr)
    const bob = await member('bob', relay.addr)
    const room = await alice.rooms.create('Lost welcome')
    const errors: string[] = []
    alice.rooms.addEventListener('invite:error', (event) => errors.push(event.detail.error.code))
    // the connection drops the moment alice has admitted bob, before her welcome (the room log) goes out
    let dropped = 0
    room.addEventListener('invite:redeemed', () => {
      for (const connection of alice.peer.getConnections(bob.peer.peerId)) {
        dropped++
        connection.abort(new Error('the connection dropped'))
      }
    })
    const invite = alice.rooms.invite(room, { base: 'https://app.example/' })
    const joined = await bob.rooms.join(invite.link, invite.pin)
    expect(dropped).toBeGreaterThan(0)
    expect(errors).toEqual(['PROTOCOL'])
    expect(joined.id).toBe(room.id)
    expect(joined.me?.devices.some((d) => d.deviceId.equals(bob.identity.deviceId))).toBe(true)
    // one admission: bob was not let in twice
    expect(room.state.members).toHaveLength(2)
    await waitFor(() => equalLogs(room, joined), 20_000, 'the logs agree')

    // the same link once more, from a device it already admitted (the welcome lost on a reload, say): alice refuses
    // the used invite, and bob gets the room anyway
    const again = await bob.rooms.join(invite.link, invite.pin)
    expect(errors).toEqual(['PROTOCOL', 'INVITE_USED'])
    expect(again.id).toBe(room.id)
    expect(room.state.members).toHaveLength(2)

    // a stranger with the used link gets the refusal, not a room: the room protocol does not answer a non-member
    // (a second invite keeps alice's door open to strangers, so carol reaches her)
    alice.rooms.invite(room, { base: 'https://app.example/' })
    const carol = await member('carol', relay.addr)
    await expect(carol.rooms.join(invite.link, invite.pin)).rejects.toMatchObject({ code: 'INVITE_USED' })
    expect(carol.rooms.list()).toHaveLength(0)
  }, 60_000)

  it('makes one connection for two devices that dial each other: the lower peer id dials, the higher waits for it', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    // a full mesh: every device dials every other by the rule, so every pair would dial both ways
    const host = await member('host', relay.addr)
    const guests = [
      await member('g1', relay.addr),
      await member('g2', relay.addr),
      await member('g3', relay.addr)
    ]
    /** The direct connections each member dialled, by the peer dialled. */
    const dialled = new Map<string, string[]>()
    for (const m of [host, ...guests]) {
      const mine: string[] = []
      dialled.set(m.peer.peerId.toString(), mine)
      m.peer.addEventListener('connection:open', (event) => {
        const connection = event.detail
        if (connection.direction === 'outbound' && connection.limits == null)
          mine.push(connection.remotePeer.toString())
      })
    }
    const room = await host.rooms.create('Once')
    for (const guest of guests) {
      const invite = host.rooms.invite(room, { base: 'https://app.example/' })
      await guest.rooms.join(invite.link, invite.pin)
    }
    // the guests are linked to each other only by the mesh (each joined through the host)
    const pairs = guests.flatMap((a, i) => guests.slice(i + 1).map((b) => [a, b] as const))
    const linked = ([a, b]: readonly [Member, Member]): boolean =>
      a.peer.getConnections(b.peer.peerId).some((c) => c.limits == null && c.status === 'open')
    const ends = ([a, b]: readonly [Member, Member]): [string, string] =>
      [a.peer.peerId.toString(), b.peer.peerId.toString()].sort() as [string, string]
    // both ends see the connection, and the dialling end has reported its dial (under load the answering end can
    // see the connection well before): a dial by the higher id, made at once, would have shown by then
    await waitFor(
      () =>
        pairs.every((pair) => {
          const [low, high] = ends(pair)
          return linked(pair) && linked([pair[1], pair[0]]) && dialled.get(low)?.includes(high) === true
        }),
      20_000,
      'the guests linked'
    )
    for (const pair of pairs) {
      const [low, high] = ends(pair)
      expect(dialled.get(high)?.filter((id) => id === low)).toEqual([])
      expect(dialled.get(low)?.filter((id) => id === high)).toEqual([high])
    }
  }, 90_000)

  it('keeps dialling an inviter its relay cannot reach yet, and joins once it can; fails with PROTOCOL when it never can', async () => {
    const relay = await RelayFixture.start()
    relays.push(relay)
    const host = await member('host', relay.addr)
    const guest = await member('guest', relay.addr)
    const room = await host.rooms.create('Back again')
    const invite = host.rooms.invite(room, { base: 'https://app.example/' })
    // the relay dies: a dial through it is refused at first, and once it is back the host has no reservation on it
    // until its own retry comes round (the relay answers NO_RESERVATION meanwhile)
    await relay.process.kill('SIGKILL')
    const retries: string[] = []
    const joining = guest.rooms.join(invite.link, invite.pin, {
      onRetry: (attempt, error) => retries.push(`${attempt}: ${error.message}`)
    })
    // two failed attempts while the relay is down
    await vi.waitFor(() => expect(retries.length).toBeGreaterThanOrEqual(2), {
      timeout: 10_000,
      interval: 50
    })
    await relay.restart()
    const joined = await joining
    expect(joined.id).toBe(room.id)
    expect(retries.length).toBeGreaterThanOrEqual(2)

    // a newcomer whose inviter never becomes reachable is told so when its invite timeout runs out
    const lonely = await member('lonely', relay.addr, ['/webrtc'], { inviteTimeoutMs: 2_000 })
    const toLonely = host.rooms.invite(room, { base: 'https://app.example/' })
    await host.rooms.stop()
    await host.peer.stop()
    members.splice(members.indexOf(host), 1)
    let attempts = 0
    const started = Date.now()
    const failure = await lonely.rooms
      .join(toLonely.link, toLonely.pin, { onRetry: (attempt) => (attempts = attempt) })
      .catch((err: unknown) => err)
    expect(failure).toMatchObject({ name: 'InviteError', code: 'PROTOCOL' })
    expect((failure as Error).message).toMatch(/could not reach the inviting device \(\d+ attempts\)/)
    expect(attempts).toBeGreaterThanOrEqual(2)
    expect(Date.now() - started).toBeLessThan(6_000)
  }, 60_000)
})
