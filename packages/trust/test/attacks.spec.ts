import {
  createIdentity,
  encode,
  fragmentLink,
  readFragment,
  statementFromBytes,
  statementToBytes
} from '@kith/identity'
import { describe, expect, it } from 'vitest'
import {
  answerInvite,
  attestNeighbours,
  EntryError,
  inviteKeys,
  inviteLink,
  InviteLinkError,
  ownAttestation,
  readAttestation,
  readAttestationAsync,
  readInviteLink,
  redeemInvite,
  Room,
  roomTopology
} from '../src/index.ts'
import { BASE, channels, redeem, trio } from './helpers.ts'

describe('link tampering (attack 18)', () => {
  it('a link with another inviter cannot admit anyone; an unknown version or a short secret is refused', async () => {
    const alice = await createIdentity({ deviceName: 'alice' })
    const bob = await createIdentity({ deviceName: 'bob' })
    const mallory = await createIdentity({ deviceName: 'mallory' })
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    // the inviter field swapped for mallory's device: the newcomer binds mallory's id into CPace's channel id,
    // while the real inviter binds its own, so the run fails and nothing is admitted
    const swapped = inviteLink({ ...readInviteLink(created.link), inviter: mallory.deviceId }, BASE)
    const [n, m] = channels()
    const answered = answerInvite(m, { room: () => room, self: alice.deviceId, remote: bob.deviceId })
    await expect(
      redeemInvite(n, { invite: readInviteLink(swapped), pin: created.pin, identity: bob })
    ).rejects.toMatchObject({
      code: 'WRONG_PIN'
    })
    await answered.catch(() => undefined)
    expect(room.state.members).toHaveLength(1)

    const fields = readFragment(created.link, 'kith', 4096) as Record<string, unknown>
    expect(() => readInviteLink(fragmentLink(BASE, 'kith', { ...fields, v: 2 }))).toThrow(/version 2/)
    expect(() => readInviteLink(fragmentLink(BASE, 'kith', { ...fields, s: new Uint8Array(16) }))).toThrow(
      InviteLinkError
    )
    // the relay hint is only a hint: a swapped relay changes where the newcomer dials, not who it trusts
    const rerouted = readInviteLink(
      inviteLink({ ...readInviteLink(created.link), relays: ['/ip4/10.0.0.1/tcp/1/ws'] }, BASE)
    )
    expect(rerouted.inviter.equals(alice.deviceId)).toBe(true)
  })
})

describe('DoS on redemption (attack 23)', () => {
  it('a flood of half-finished or malformed redemptions corrupts nothing; the real newcomer still gets in', async () => {
    const alice = await createIdentity({ deviceName: 'alice' })
    const bob = await createIdentity({ deviceName: 'bob' })
    const room = await Room.create(alice, 'Trip')
    const created = room.createInvite({ relays: [], base: BASE })
    const id = inviteKeys(readInviteLink(created.link).secret).id
    const codes: string[] = []
    for (let i = 0; i < 25; i++) {
      const flooder = await createIdentity({ deviceName: `flood-${i}` })
      const [n, m] = channels()
      const answered = answerInvite(m, { room: () => room, self: alice.deviceId, remote: flooder.deviceId })
      await n.write(encode({ t: 'hello', v: 1, room: room.id, id, nonce: new Uint8Array(16) }))
      await n.read()
      // a share that is not 32 bytes: a protocol error, not a PIN guess
      await n.write(encode({ t: 'share', y: new Uint8Array(7) }))
      await answered.catch((err: { code: string }) => codes.push(err.code))
    }
    expect(new Set(codes)).toEqual(new Set(['PROTOCOL']))
    expect(room.state.invites[0]?.status).toBe('open')
    // malformed bytes that are not even a message
    const [n, m] = channels()
    const garbage = answerInvite(m, { room: () => room, self: alice.deviceId, remote: bob.deviceId })
    await n.write(new Uint8Array([0xff, 0x00, 0x13]))
    await expect(garbage).rejects.toMatchObject({ code: 'PROTOCOL' })
    const { newcomer } = await redeem(room, created.link, created.pin, bob)
    expect(newcomer.status).toBe('fulfilled')
  })
})

describe('topology (attack 33)', () => {
  it('flags a member attesting an outsider, a one-sided edge and a silent member', async () => {
    const { a, ids } = await trio()
    const outsider = await createIdentity({ deviceName: 'outsider' })
    const now = Date.now()
    const attest = (identity: typeof ids.a, peers: (typeof ids.a)['deviceId'][]) =>
      readAttestation(attestNeighbours(identity, a.id, peers, now), a.id)
    const topology = roomTopology(
      a.state,
      [
        attest(ids.a, [ids.b.deviceId]),
        attest(ids.b, [ids.a.deviceId, ids.c.deviceId, outsider.deviceId]),
        // the outsider's own attestation is ignored: it is not a member
        attest(outsider, [ids.b.deviceId])
      ],
      { now }
    )
    const flags = topology.flags.map((f) => f.kind).sort()
    expect(flags).toEqual(['outsider', 'silent'])
    expect(topology.flags.find((f) => f.kind === 'outsider')).toMatchObject({
      device: outsider.deviceId.toString(),
      reportedBy: ids.b.deviceId.toString()
    })
    expect(topology.flags.find((f) => f.kind === 'silent')).toMatchObject({
      device: ids.c.deviceId.toString()
    })
    expect(
      topology.edges.find((e) => e.from === ids.a.deviceId.toString() && e.to === ids.b.deviceId.toString())
        ?.mutual
    ).toBe(true)

    // once carol attests but leaves bob out, bob's claim about her is one-sided
    const later = roomTopology(
      a.state,
      [attest(ids.a, [ids.b.deviceId]), attest(ids.b, [ids.a.deviceId, ids.c.deviceId]), attest(ids.c, [])],
      { now }
    )
    expect(later.flags).toEqual([
      { kind: 'one-sided', from: ids.b.deviceId.toString(), to: ids.c.deviceId.toString() }
    ])
    // an attestation for another room, or a tampered one, is refused
    expect(() => readAttestation(attestNeighbours(ids.a, 'another-room', [], now), a.id)).toThrow()
  })

  it('should read attestations the same way when the signature is checked by WebCrypto, refusing forgeries', async () => {
    const { a, ids } = await trio()
    const now = Date.now()
    const peers = [ids.b.deviceId, ids.c.deviceId]
    const bytes = attestNeighbours(ids.a, a.id, peers, now)
    expect(await readAttestationAsync(bytes, a.id)).toEqual(readAttestation(bytes, a.id))
    // what a device keeps of its own attestation is what others read from it
    expect(ownAttestation(ids.a, a.id, peers, now)).toEqual(readAttestation(bytes, a.id))
    await expect(
      readAttestationAsync(attestNeighbours(ids.a, 'another-room', [], now), a.id)
    ).rejects.toThrow(EntryError)
    // one bit of the signature flipped, and a neighbour added after signing
    const statement = statementFromBytes(bytes)
    statement.g = new Uint8Array(statement.g)
    statement.g[5] = (statement.g[5] as number) ^ 1
    const flipped = statementToBytes(statement)
    await expect(readAttestationAsync(flipped, a.id)).rejects.toThrow(/signature does not verify/)
    expect(() => readAttestation(flipped, a.id)).toThrow(/signature does not verify/)
    const other = attestNeighbours(ids.a, a.id, [...peers, ids.a.deviceId], now)
    const grown = statementFromBytes(bytes)
    grown.p = statementFromBytes(other).p
    await expect(readAttestationAsync(statementToBytes(grown), a.id)).rejects.toThrow(EntryError)
  })
})
