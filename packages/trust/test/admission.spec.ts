import { createIdentity } from '@kith/identity'
import { toString } from 'uint8arrays/to-string'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  answerInvite,
  InviteError,
  inviteKeys,
  pinPassword,
  readInviteLink,
  redeemInvite,
  Room
} from '../src/index.ts'
import { admit, BASE, channels, redeem, sync } from './helpers.ts'
import type { Identity } from '@kith/identity'

let alice: Identity
let bob: Identity
let mallory: Identity

beforeAll(async () => {
  alice = await createIdentity({ deviceName: 'alice' })
  bob = await createIdentity({ deviceName: 'bob' })
  mallory = await createIdentity({ deviceName: 'mallory' })
})

const codeOf = (result: PromiseSettledResult<unknown>): string | undefined =>
  result.status === 'rejected' ? (result.reason as InviteError).code : undefined

describe('invite exchange', () => {
  it('admits the newcomer with the right PIN; both replicas agree and share the epoch key', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    expect(created.pin).toMatch(/^\d{6}$/)
    const redeemed: string[] = []
    room.addEventListener('invite:redeemed', (e) => redeemed.push(e.detail.member.name))
    const { inviter, newcomer } = await redeem(room, created.link, created.pin, bob)
    expect(inviter.status).toBe('fulfilled')
    expect(newcomer.status).toBe('fulfilled')
    const joined = (newcomer as PromiseFulfilledResult<Room>).value
    expect(joined.id).toBe(room.id)
    expect(joined.state.members.map((m) => m.name)).toEqual(['alice', 'bob'])
    expect(joined.state.order).toEqual(room.state.order)
    expect(redeemed).toEqual(['bob'])
    const sealed = await room.seal(new TextEncoder().encode('hello bob'))
    expect(new TextDecoder().decode(await joined.open(sealed))).toBe('hello bob')
  })

  it('attack 12: three wrong PINs with a stolen link burn the invite; the real invitee gets INVITE_BURNED', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const failures: number[] = []
    let burned = 0
    room.addEventListener('invite:failed', (e) => failures.push(e.detail.failures))
    room.addEventListener('invite:burned', () => burned++)
    const codes: Array<string | undefined> = []
    for (const pin of ['000000', '111111', '222222']) {
      const wrong = pin === created.pin ? '333333' : pin
      const { newcomer, inviter } = await redeem(room, created.link, wrong, mallory)
      codes.push(codeOf(newcomer))
      expect(codeOf(inviter)).toBe(codeOf(newcomer))
    }
    expect(codes).toEqual(['WRONG_PIN', 'WRONG_PIN', 'INVITE_BURNED'])
    expect(failures).toEqual([1, 2, 3])
    expect(burned).toBe(1)
    expect(room.state.invites[0]?.status).toBe('burned')
    const real = await redeem(room, created.link, created.pin, bob)
    expect(codeOf(real.newcomer)).toBe('INVITE_BURNED')
    expect(room.state.members).toHaveLength(1)
  })

  it('attack 14: link and PIN used first — the real invitee gets INVITE_USED, the inviter sees who was admitted', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const first = await redeem(room, created.link, created.pin, mallory)
    expect(first.newcomer.status).toBe('fulfilled')
    const reused: string[] = []
    room.addEventListener('invite:reused', (e) => reused.push(e.detail.admitted?.userId ?? ''))
    const second = await redeem(room, created.link, created.pin, bob)
    expect(codeOf(second.newcomer)).toBe('INVITE_USED')
    expect((second.newcomer as PromiseRejectedResult).reason.message).toMatch(/intercepted/)
    const impostor = room.state.members.find((m) => m.name === 'mallory')
    expect(reused).toEqual([impostor?.userId])
    // the inviter removes the impostor, which rotates the key
    await room.remove(impostor?.user as Uint8Array)
    expect(room.state.epoch.n).toBe(2)
    expect(room.state.members.map((m) => m.name)).toEqual(['alice'])
  })

  it('attack 20: expired and revoked invites are refused with their own codes', async () => {
    const room = await Room.create(alice, 'Trip')
    const revoked = room.createInvite({ relays: [], base: BASE })
    room.revokeInvite(revoked.id)
    expect(codeOf((await redeem(room, revoked.link, revoked.pin, bob)).newcomer)).toBe('INVITE_REVOKED')
    const expiring = room.createInvite({ relays: [], base: BASE, ttlMs: 60_000 })
    // both copies of the invite, the link's and the one the inviter holds, are past their expiry
    const invite = { ...readInviteLink(expiring.link), expiresAt: Date.now() - 1 }
    const held = room.heldInvite(expiring.id)
    if (held != null) held.invite.expiresAt = Date.now() - 1
    // the newcomer refuses an expired link before dialing; the inviter refuses it as well
    await expect(
      redeemInvite(channels()[0], { invite, pin: expiring.pin, identity: bob })
    ).rejects.toMatchObject({ code: 'INVITE_EXPIRED' })
    const [n, m] = channels()
    const answered = answerInvite(m, { room: () => room, self: alice.deviceId, remote: bob.deviceId })
    await redeemInvite(n, {
      invite: { ...invite, expiresAt: Date.now() + 60_000 },
      pin: expiring.pin,
      identity: bob
    }).catch((err: InviteError) => expect(err.code).toBe('INVITE_EXPIRED'))
    await expect(answered).rejects.toMatchObject({ code: 'INVITE_EXPIRED' })
  })

  it('a reply that never comes is reported as such, not as a malformed message', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const timedOut = Object.assign(new Error('The operation timed out'), { name: 'TimeoutError' })
    // the inviter's device reads the newcomer's first message, then the stream is cut by the exchange's deadline
    const silent = {
      read: async () => Promise.reject(new AggregateError([timedOut], 'All promises were rejected')),
      write: async () => Promise.resolve()
    }
    const err = await redeemInvite(silent, {
      invite: readInviteLink(created.link),
      pin: created.pin,
      identity: bob
    })
      .then(() => undefined)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InviteError)
    expect(err).toMatchObject({ code: 'PROTOCOL' })
    expect((err as Error).message).toMatch(/^no .* came from the other device: it took too long/)
  })

  it('an unknown invite or room gets INVITE_UNKNOWN', async () => {
    const room = await Room.create(alice, 'Trip')
    const other = await Room.create(alice, 'Other')
    const created = other.createInvite({ relays: [], base: BASE })
    expect(codeOf((await redeem(room, created.link, created.pin, bob)).newcomer)).toBe('INVITE_UNKNOWN')
  })

  it('a second redemption while one runs gets BUSY', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const [n1, m1] = channels()
    const first = answerInvite(m1, { room: () => room, self: alice.deviceId, remote: mallory.deviceId })
    const invite = readInviteLink(created.link)
    // mallory says hello and stops there
    await n1.write(
      (await import('@kith/identity')).encode({
        t: 'hello',
        v: 1,
        room: room.id,
        id: inviteKeys(invite.secret).id,
        nonce: new Uint8Array(16)
      })
    )
    await n1.read()
    const second = await redeem(room, created.link, created.pin, bob)
    expect(codeOf(second.newcomer)).toBe('BUSY')
    void first.catch(() => undefined)
  })

  it('attack 11/19: nothing on the wire is the PIN, the secret, the password or a key derived from them', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE, pin: '493027' })
    const invite = readInviteLink(created.link)
    const { tap, newcomer } = await redeem(room, created.link, created.pin, bob)
    expect(newcomer.status).toBe('fulfilled')
    const wire = [...tap.toInviter, ...tap.toNewcomer].map((b) => toString(b, 'base16')).join('|')
    for (const secret of [
      new TextEncoder().encode('493027'),
      invite.secret,
      pinPassword(invite.secret, '493027'),
      inviteKeys(invite.secret).secretKey,
      await room.epochSecret()
    ]) {
      expect(wire).not.toContain(toString(secret, 'base16'))
    }
  })

  it('attack 11: the inviter sends nothing PIN-dependent to a peer that has not confirmed', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const wrong = created.pin === '123456' ? '654321' : '123456'
    const { tap } = await redeem(room, created.link, wrong, mallory)
    // challenge, share (a uniformly random group element), error — no confirmation MAC
    const text = tap.toNewcomer.map((b) => new TextDecoder().decode(b))
    expect(tap.toNewcomer).toHaveLength(3)
    expect(text[2]).toContain('WRONG_PIN')
    expect(text.join('')).not.toContain('mac')
  })

  it('attack 16: a claim captured from one session is refused in another, and by another verifier', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const first = await redeem(room, created.link, created.pin, bob)
    expect(first.newcomer.status).toBe('fulfilled')
    // hello, share, confirm, sealed claim
    const captured = first.tap.toInviter[3] as Uint8Array
    const next = room.createInvite({ relays: [], base: BASE })
    const [n, m] = channels()
    let sent = 0
    const answered = answerInvite(m, { room: () => room, self: alice.deviceId, remote: mallory.deviceId })
    const replayed = redeemInvite(
      { read: async () => n.read(), write: async (b) => n.write(++sent === 4 ? captured : b) },
      { invite: readInviteLink(next.link), pin: next.pin, identity: mallory }
    )
    await expect(answered).rejects.toMatchObject({ code: 'PROTOCOL' })
    await expect(replayed).rejects.toBeInstanceOf(InviteError)
    expect(room.state.invites.find((i) => i.idKey === next.id)?.status).toBe('open')
    // the admission's evidence, shown to a verifier as if another device had admitted bob, does not hold
    const admit = room.state.members.find((m) => m.name === 'bob')
    const entry = Room.fromEntries(alice, room.log()).state.order.includes(admit?.since ?? '')
    expect(entry).toBe(true)
    const { readEntry, checkAdmission } = await import('../src/index.ts')
    const admitEntry = room
      .log()
      .map(readEntry)
      .find((e) => e.hash === admit?.since)
    const evidence = admitEntry?.data
    if (evidence?.kind !== 'admit') throw new Error('no admit entry')
    const record = room.state.invites.find((i) => i.idKey === created.id)
    expect(() =>
      checkAdmission(evidence, {
        room: room.id,
        invite: record?.id as Uint8Array,
        inviteKey: record?.key as Uint8Array,
        inviter: mallory.device.publicKey.raw
      })
    ).toThrow(/another device/)
  })

  it('attack 1/16: a session forwarded from another peer id fails', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const [n, m] = channels()
    // the connection is from mallory, the run is bob's (a relayed or forwarded session): CPace's channel id binds
    // both peer ids, so the keys differ and the run fails as a wrong PIN would
    const answered = answerInvite(m, { room: () => room, self: alice.deviceId, remote: mallory.deviceId })
    const redeemed = redeemInvite(n, {
      invite: readInviteLink(created.link),
      pin: created.pin,
      identity: bob
    })
    await expect(answered).rejects.toMatchObject({ code: 'WRONG_PIN' })
    await expect(redeemed).rejects.toMatchObject({ code: 'WRONG_PIN' })
    expect(room.state.members).toHaveLength(1)
  })

  it('attack 17: an attacker holding the link who plays the inviter cannot make the newcomer join its room', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const invite = readInviteLink(created.link)
    // mallory has the link and the PIN, and answers as if she were the inviter, with a room of her own
    const fake = await Room.create(mallory, 'Trip')
    const [n, m] = channels()
    const fakeAnswer = answerInvite(m, {
      room: () => fake,
      self: mallory.deviceId,
      remote: bob.deviceId
    })
    const redeemed = redeemInvite(n, { invite, pin: created.pin, identity: bob })
    await expect(redeemed).rejects.toBeInstanceOf(InviteError)
    await fakeAnswer.catch(() => undefined)
  })

  it('attack 22: a newcomer reflecting the inviter share is refused', async () => {
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const [n, m] = channels()
    const answered = answerInvite(m, { room: () => room, self: alice.deviceId, remote: bob.deviceId })
    const { encode, decode } = await import('@kith/identity')
    const invite = readInviteLink(created.link)
    await n.write(
      encode({ t: 'hello', v: 1, room: room.id, id: inviteKeys(invite.secret).id, nonce: new Uint8Array(16) })
    )
    await n.read()
    // sends a share, receives the inviter's, then claims it as its own in a second run is impossible: reflect now
    await n.write(encode({ t: 'share', y: new Uint8Array(32) }))
    const reply = decode(await n.read(), 1 << 16) as Record<string, unknown>
    expect(reply.t === 'share' || reply.t === 'error').toBe(true)
    await n.write(encode({ t: 'confirm', mac: new Uint8Array(32) }))
    await expect(answered).rejects.toMatchObject({ code: 'WRONG_PIN' })
  })

  it('a member of the room can admit further members; every replica re-validates the admission', async () => {
    const room = await Room.create(alice, 'Trip')
    const bobRoom = await admit(room, bob)
    const carol = await createIdentity({ deviceName: 'carol' })
    const carolRoom = await admit(bobRoom, carol)
    sync(room, bobRoom, carolRoom)
    for (const replica of [room, bobRoom, carolRoom]) {
      expect(replica.state.members.map((m) => m.name)).toEqual(['alice', 'bob', 'carol'])
      expect(replica.state.dropped).toEqual([])
    }
    expect(room.state.members[2]?.invitedBy).toBe(room.state.members[1]?.userKey)
  })
})
