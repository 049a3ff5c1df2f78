import { addDevice, createIdentity, createStatement, deviceSecret, statementToBytes } from '@kith/identity'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createEntry, EntryError, readEntry, reduceRoom, Room, RoomError } from '../src/index.ts'
import { b64 } from '../src/entries.ts'
import { BASE, redeem, sync, trio } from './helpers.ts'
import type { Entry, RoomState } from '../src/index.ts'

const names = (state: RoomState): string[] => state.members.map((m) => m.name)
const summary = (state: RoomState): unknown => ({
  order: state.order,
  members: state.members.map((m) => [m.userKey, m.admin, m.quarantined]),
  epoch: state.epoch.entry,
  dropped: state.dropped,
  invites: state.invites.map((i) => [i.idKey, i.status])
})

describe('room log', () => {
  it('attack 25: concurrent mutual removal of two admins — seniority decides, every replica agrees', async () => {
    const { a, b, c } = await trio()
    a.setAdmin(b.me?.user as Uint8Array, true)
    sync(a, b, c)
    await a.remove(b.me?.user as Uint8Array)
    await b.remove(a.me?.user as Uint8Array)
    sync(a, b, c)
    for (const replica of [a, b, c]) expect(names(replica.state)).toEqual(['alice-laptop', 'carol-tablet'])
    expect(summary(b.state)).toEqual(summary(a.state))
    expect(a.state.dropped.map((d) => d.kind)).toEqual(['remove'])
  })

  it('attack 26: a removed member’s concurrent acts are dropped', async () => {
    const { a, b, c } = await trio()
    await a.remove(c.me?.user as Uint8Array)
    c.createInvite({ relays: [], base: BASE })
    sync(a, b, c)
    expect(names(a.state)).toEqual(['alice-laptop', 'bob-phone'])
    expect(a.state.invites.filter((i) => i.by === c.state.members[2]?.userKey)).toEqual([])
    expect(a.state.dropped.map((d) => d.kind)).toEqual(['invite'])
    // and a removed member cannot append once it knows
    expect(() => c.createInvite({ relays: [], base: BASE })).toThrow(RoomError)
  })

  it('attack 25: an admin act concurrent with the demotion of its author is dropped', async () => {
    const { a, b, c } = await trio()
    a.setAdmin(b.me?.user as Uint8Array, true)
    sync(a, b, c)
    a.setAdmin(b.me?.user as Uint8Array, false)
    await b.remove(c.me?.user as Uint8Array)
    sync(a, b, c)
    expect(names(a.state)).toEqual(['alice-laptop', 'bob-phone', 'carol-tablet'])
    expect(a.state.members[1]?.admin).toBe(false)
    expect(summary(c.state)).toEqual(summary(a.state))
  })

  it('attack 24: a non-admin cannot remove, change roles or rotate; a forged attempt is dropped by every replica', async () => {
    const { a, b, c, ids } = await trio()
    await expect(c.remove(b.me?.user as Uint8Array)).rejects.toMatchObject({ code: 'NOT_ADMIN' })
    expect(() => c.setAdmin(c.me?.user as Uint8Array, true)).toThrow(RoomError)
    const heads = c.state.heads.map(
      (h) =>
        c
          .log()
          .map(readEntry)
          .find((e) => e.hash === h) as Entry
    )
    const forged = createEntry(
      ids.c,
      { room: c.id, prev: heads },
      { kind: 'role', user: ids.c.user, admin: true }
    )
    a.add([forged.bytes])
    b.add([forged.bytes])
    expect(a.state.dropped).toEqual([
      { entry: forged.hash, kind: 'role', reason: 'only an admin may do this' }
    ])
    expect(a.state.members[2]?.admin).toBe(false)
  })

  it('attack 2/3: an entry whose author claims another user, or whose signature is broken, is refused', async () => {
    const { a, ids } = await trio()
    const entry = a.log()[1] as Uint8Array
    const flipped = entry.slice()
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] ?? 0) ^ 1
    expect(() => readEntry(flipped)).toThrow(EntryError)
    // carol's device signs, with bob's user inside
    const forged = statementToBytes(
      createStatement(
        deviceSecret(ids.c.device),
        'room-entry',
        { user: ids.b.user, at: Date.now(), body: { v: 1, r: a.id, p: [a.id], n: 1, k: 'leave', d: {} } },
        ids.c.certificate
      )
    )
    expect(() => readEntry(forged)).toThrow(EntryError)
    expect(a.add([forged, flipped]).rejected).toHaveLength(2)
  })

  it('attack 4/32: a device never admitted (another device of a member, a relay) cannot act in the room', async () => {
    const { a, ids } = await trio()
    const relay = await createIdentity({ deviceName: 'relay' })
    const bobsOther = await addDevice(ids.b, { deviceName: 'bob-laptop' })
    const heads = a.state.heads.map(
      (h) =>
        a
          .log()
          .map(readEntry)
          .find((e) => e.hash === h) as Entry
    )
    const fromRelay = createEntry(relay, { room: a.id, prev: heads }, { kind: 'leave' })
    const fromOther = createEntry(bobsOther, { room: a.id, prev: heads }, { kind: 'leave' })
    a.add([fromRelay.bytes, fromOther.bytes])
    expect(a.state.dropped.map((d) => d.reason)).toEqual([
      'the signing device was not admitted to the room before this entry',
      'the signing device was not admitted to the room before this entry'
    ])
    expect(a.state.members).toHaveLength(3)
  })

  it('attack 30/15: an inviter device that forks and admits two people on one invite is flagged; both are quarantined', async () => {
    const alice = await createIdentity({ deviceName: 'alice' })
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const fork = Room.fromBytes(alice, room.toBytes())
    const bob = await createIdentity({ deviceName: 'bob' })
    const mallory = await createIdentity({ deviceName: 'mallory' })
    expect((await redeem(room, created.link, created.pin, bob)).newcomer.status).toBe('fulfilled')
    expect((await redeem(fork, created.link, created.pin, mallory)).newcomer.status).toBe('fulfilled')
    sync(room, fork)
    expect(room.state.equivocations.map((e) => e.deviceId.toString())).toEqual([alice.deviceId.toString()])
    expect(
      room.state.members
        .filter((m) => m.quarantined)
        .map((m) => m.name)
        .sort()
    ).toEqual(['bob', 'mallory'])
    expect(room.state.needsRotation).toBe(true)
    await room.rotate('quarantine')
    expect(room.state.needsRotation).toBe(false)
    expect(room.state.epoch.boxes).toHaveLength(1)
  })

  it('attack 31: replayed and duplicate entries change nothing', async () => {
    const { a, b } = await trio()
    const before = summary(a.state)
    expect(a.add([...b.log(), ...b.log()]).added).toBe(0)
    expect(summary(a.state)).toEqual(before)
  })

  it('attack 28: a removed member cannot open data sealed after its removal; it still opens older data', async () => {
    const { a, b, c } = await trio()
    const older = await a.seal(new TextEncoder().encode('before'))
    await a.remove(b.me?.user as Uint8Array)
    sync(a, b, c)
    const newer = await a.seal(new TextEncoder().encode('after'))
    await expect(b.open(newer)).rejects.toMatchObject({ code: 'NO_KEY' })
    expect(new TextDecoder().decode(await b.open(older))).toBe('before')
    expect(new TextDecoder().decode(await c.open(newer))).toBe('after')
  })

  it('attack 29: a device offline through two rotations catches up and reads the newest data and the old', async () => {
    const { a, b, c } = await trio()
    const first = await a.seal(new TextEncoder().encode('epoch 1'))
    await a.rotate()
    await a.rotate()
    sync(a, b)
    const third = await b.seal(new TextEncoder().encode('epoch 3'))
    sync(a, b, c)
    expect(c.state.epoch.n).toBe(3)
    expect(new TextDecoder().decode(await c.open(third))).toBe('epoch 3')
    expect(new TextDecoder().decode(await c.open(first))).toBe('epoch 1')
  })

  it('a replica stored and loaded keeps its log and its held invites', async () => {
    const { a, ids } = await trio()
    const created = a.createInvite({ relays: [], base: BASE })
    const loaded = Room.fromBytes(ids.a, a.toBytes())
    expect(summary(loaded.state)).toEqual(summary(a.state))
    expect(loaded.heldInvite(created.id)?.pin).toBe(created.pin)
    expect(() => Room.fromBytes(ids.a, new Uint8Array([1, 2, 3]))).toThrow(RoomError)
  })

  it('entries waiting for missing predecessors join once they arrive', async () => {
    const { a, b, ids } = await trio()
    const fresh = Room.fromEntries(ids.a, [a.log()[0] as Uint8Array])
    const rest = b.log().slice(1).reverse()
    expect(fresh.add(rest.slice(0, 3)).added).toBe(0)
    fresh.add(rest.slice(3))
    expect(summary(fresh.state)).toEqual(summary(b.state))
  })

  it('random concurrent histories converge to the same membership on every replica', async () => {
    const base = await trio()
    base.a.setAdmin(base.b.me?.user as Uint8Array, true)
    sync(base.a, base.b, base.c)
    const snapshot = { a: base.a.toBytes(), b: base.b.toBytes(), c: base.c.toBytes() }
    const op = fc.record({
      at: fc.integer({ min: 0, max: 2 }),
      kind: fc.constantFrom('remove', 'promote', 'demote', 'invite', 'leave', 'rotate', 'sync'),
      target: fc.integer({ min: 0, max: 2 }),
      with: fc.integer({ min: 0, max: 2 })
    })
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
        const replicas = [
          Room.fromBytes(base.ids.a, snapshot.a),
          Room.fromBytes(base.ids.b, snapshot.b),
          Room.fromBytes(base.ids.c, snapshot.c)
        ]
        const users = replicas.map((r) => r.me?.user as Uint8Array)
        for (const o of ops) {
          const r = replicas[o.at] as Room
          try {
            if (o.kind === 'remove') await r.remove(users[o.target] as Uint8Array)
            else if (o.kind === 'promote') r.setAdmin(users[o.target] as Uint8Array, true)
            else if (o.kind === 'demote') r.setAdmin(users[o.target] as Uint8Array, false)
            else if (o.kind === 'invite') r.createInvite({ relays: [], base: BASE })
            else if (o.kind === 'leave') r.leave()
            else if (o.kind === 'rotate') await r.rotate()
            else sync(r, replicas[o.with] as Room)
          } catch (err: unknown) {
            if (!(err instanceof RoomError)) throw err
          }
        }
        const all = replicas.flatMap((r) => r.log())
        const merged = replicas.map(() => summary(reduceRoom(all.map(readEntry))))
        const reversed = summary(reduceRoom([...all].reverse().map(readEntry)))
        sync(...replicas)
        for (const r of replicas) expect(summary(r.state)).toEqual(merged[0])
        expect(reversed).toEqual(merged[0])
        // whoever the valid log removes or lets leave (and does not admit again) is not a member, and nothing valid
        // follows that from their devices (everyone may leave: a room can end with no members)
        const state = replicas[0]?.state as RoomState
        const entries = new Map(all.map(readEntry).map((e) => [e.hash, e]))
        const valid = state.order.map((h) => entries.get(h) as Entry)
        valid.forEach((entry, i) => {
          const { data } = entry
          const gone =
            data.kind === 'remove' ? b64(data.user) : data.kind === 'leave' ? entry.userKey : undefined
          if (gone == null) return
          const later = valid.slice(i + 1)
          if (later.some((e) => e.data.kind === 'admit')) return
          expect(state.members.map((m) => m.userKey)).not.toContain(gone)
          expect(later.filter((e) => e.userKey === gone && e.data.kind !== 'leave')).toEqual([])
        })
      }),
      { numRuns: 25 }
    )
  }, 120_000)
})
