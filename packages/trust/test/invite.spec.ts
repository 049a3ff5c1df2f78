import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519 } from '@noble/curves/ed25519.js'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  createInvite,
  CPaceSession,
  InviteFlags,
  InviteLinkError,
  inviteKeys,
  inviteLink,
  pinPassword,
  readInviteLink
} from '../src/index.ts'
import type { Invite } from '../src/index.ts'
import type { PeerId } from '@libp2p/interface'

let inviter: PeerId
let invite: Invite

beforeAll(async () => {
  inviter = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  invite = createInvite({
    inviter,
    relays: ['/ip4/127.0.0.1/tcp/4003/ws/p2p/12D3KooWDY7pqetxkz5y552A1WdiyenTeMrKNujEgHMUHr4VALEA'],
    room: new Uint8Array(32).fill(7),
    flags: InviteFlags.MayInvite
  })
})

describe('invite links', () => {
  it('should carry everything in the fragment and read back the same invite', () => {
    const link = inviteLink(invite, 'https://app.example/notes?x=1#old')
    const url = new URL(link)
    expect(url.pathname + url.search).toBe('/notes?x=1')
    expect(url.hash.startsWith('#kith=')).toBe(true)
    const read = readInviteLink(link)
    expect(read.inviter.toString()).toBe(inviter.toString())
    expect(read.secret).toEqual(invite.secret)
    expect(read.room).toEqual(invite.room)
    expect(read.flags).toBe(InviteFlags.MayInvite)
    expect(read.expiresAt).toBe(invite.expiresAt)
  })

  it('should derive the same id and key from the secret, and a signature with it verifies against the log key', () => {
    const a = inviteKeys(invite.secret)
    const b = inviteKeys(readInviteLink(inviteLink(invite, 'https://x/')).secret)
    expect(a).toEqual(b)
    expect(a.id).toHaveLength(16)
    const claim = new TextEncoder().encode('transcript')
    expect(ed25519.verify(ed25519.sign(claim, b.secretKey), claim, a.publicKey)).toBe(true)
    expect(inviteKeys(createInvite({ inviter, relays: [], room: invite.room }).secret).id).not.toEqual(a.id)
  })

  it('should refuse damaged, cut-off, foreign and oversized links with InviteLinkError (fuzz)', () => {
    const link = inviteLink(invite, 'https://x/')
    expect(() => readInviteLink('https://x/#kith-pair=abc')).toThrow(InviteLinkError)
    expect(() => readInviteLink(link.slice(0, link.length - 10))).toThrow(InviteLinkError)
    expect(() => readInviteLink(`#kith=${'A'.repeat(5000)}`)).toThrow(/too long/)
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (junk) => {
        expect(() => readInviteLink(`#kith=${junk}`)).toThrow(InviteLinkError)
      }),
      { numRuns: 300 }
    )
    const fragment = link.slice(link.indexOf('=') + 1)
    fc.assert(
      fc.property(
        fc.nat(fragment.length - 1),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
        (at, c) => {
          const mutated = `#kith=${fragment.slice(0, at)}${c}${fragment.slice(at + 1)}`
          try {
            const read = readInviteLink(mutated)
            // a change that still decodes changed a value, never the shape
            expect(read.secret).toHaveLength(32)
            expect(read.room).toHaveLength(32)
          } catch (err: unknown) {
            expect(err).toBeInstanceOf(InviteLinkError)
          }
        }
      ),
      { numRuns: 300 }
    )
  })

  it('a stolen link without the PIN: CPace keys differ, so the guess fails', () => {
    const sid = new Uint8Array(16)
    const ci = new TextEncoder().encode('inviter|invitee')
    const a = new CPaceSession({
      prs: pinPassword(invite.secret, '4821'),
      ci,
      sid,
      ad: new Uint8Array(0),
      role: 'initiator'
    })
    const thief = new CPaceSession({
      prs: pinPassword(invite.secret, '0000'),
      ci,
      sid,
      ad: new Uint8Array(0),
      role: 'responder'
    })
    expect(a.finish(thief.share, new Uint8Array(0))).not.toEqual(thief.finish(a.share, new Uint8Array(0)))
    // and the PIN without the link: another secret, another key
    const b = new CPaceSession({
      prs: pinPassword(invite.secret, '4821'),
      ci,
      sid,
      ad: new Uint8Array(0),
      role: 'initiator'
    })
    const other = createInvite({ inviter, relays: [], room: invite.room }).secret
    const guesser = new CPaceSession({
      prs: pinPassword(other, '4821'),
      ci,
      sid,
      ad: new Uint8Array(0),
      role: 'responder'
    })
    expect(b.finish(guesser.share, new Uint8Array(0))).not.toEqual(guesser.finish(b.share, new Uint8Array(0)))
  })

  it('should normalize the PIN and refuse one too short or too long', () => {
    expect(pinPassword(invite.secret, ' 48 21 ')).toEqual(pinPassword(invite.secret, '4821'))
    expect(pinPassword(invite.secret, '４８２１')).toEqual(pinPassword(invite.secret, '4821'))
    expect(() => pinPassword(invite.secret, '12')).toThrow(InviteLinkError)
    expect(() => pinPassword(invite.secret, '1'.repeat(33))).toThrow(InviteLinkError)
  })
})
