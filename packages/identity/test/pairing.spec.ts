import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import {
  createIdentity,
  DevicePairing,
  MAX_PAIRING_FAILURES,
  pairingLink,
  readPairingLink,
  requestPairing,
  signAs,
  verify
} from '../src/index.ts'
import { channels } from './channels.ts'
import type { Identity, PairingOffer, PairingRequest, PairingResult } from '../src/index.ts'
import type { PrivateKey } from '@libp2p/interface'

let phone: Identity
let pairing: DevicePairing
let offer: PairingOffer

beforeEach(async () => {
  phone = await createIdentity({ deviceName: 'phone' })
  pairing = new DevicePairing(phone)
  offer = pairing.createOffer({
    relays: ['/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWDY7pqetxkz5y552A1WdiyenTeMrKNujEgHMUHr4VALEA']
  })
})

/** The laptop asks with `asOffer`, the phone answers; resolves with both sides' outcomes. */
async function pair(
  asOffer: PairingOffer,
  options: {
    name?: string
    approve?: (r: PairingRequest) => boolean
    tamper?: Parameters<typeof channels>[0]
  } = {}
): Promise<{ laptop: Identity | Error; answered: PairingResult | Error; key: PrivateKey }> {
  const key = await generateKeyPair('Ed25519')
  const [toPhone, toLaptop] = channels(options.tamper)
  const [laptop, answered] = await Promise.all([
    requestPairing(toPhone, asOffer, { device: key, deviceName: options.name ?? 'laptop' }).catch(
      (e: Error) => e
    ),
    pairing
      .answer(toLaptop, peerIdFromPrivateKey(key), { approve: options.approve ?? (() => true) })
      .catch((e: Error) => e)
  ])
  return { laptop, answered, key }
}

describe('device pairing', () => {
  it('should make the new device a certified device of the same user', async () => {
    const { laptop, answered } = await pair(offer)
    if (laptop instanceof Error) throw laptop
    expect(laptop.user).toEqual(phone.user)
    expect(laptop.rootSecret).toBeUndefined()
    expect(answered).toMatchObject({ deviceName: 'laptop', root: false })
    // what the laptop signs verifies as the phone's user
    const verified = verify(signAs(laptop, 'note', { text: 'hi' }), { type: 'note', from: laptop.deviceId })
    expect(verified.user).toEqual(phone.user)
    expect(verified.deviceName).toBe('laptop')
  })

  it('should hand over the root key only when the offer says so', async () => {
    offer = pairing.createOffer({ relays: [], shareRoot: true })
    const { laptop } = await pair(offer)
    if (laptop instanceof Error) throw laptop
    expect(laptop.rootSecret).toEqual(phone.rootSecret)
  })

  it('should round-trip an offer through its link, fragment only', () => {
    const link = pairingLink(offer, 'https://app.example/path?x=1#old')
    expect(link.startsWith('https://app.example/path?x=1#kith-pair=')).toBe(true)
    const read = readPairingLink(link)
    expect(read.device.toString()).toBe(offer.device.toString())
    expect(read.secret).toEqual(offer.secret)
    expect(read.relays).toEqual(offer.relays)
  })

  it('should refuse damaged links with PairingError PROTOCOL (fuzz)', () => {
    expect(() => readPairingLink('https://app.example/#kith=abc')).toThrow(/not a Kith pairing link/)
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (junk) => {
        expect(() => readPairingLink(`#kith-pair=${junk}`)).toThrow(
          expect.objectContaining({ code: 'PROTOCOL' })
        )
      }),
      { numRuns: 200 }
    )
  })

  it('a stolen offer id without the secret is refused, and three wrong secrets burn the offer', async () => {
    const guessed = { ...offer, secret: new Uint8Array(16) }
    for (let i = 0; i < MAX_PAIRING_FAILURES; i++) {
      const { laptop, answered } = await pair(guessed)
      expect(laptop).toMatchObject({ name: 'PairingError', code: 'WRONG_SECRET' })
      expect(answered).toMatchObject({ code: 'WRONG_SECRET' })
    }
    // now even the right secret is refused: the offer is burned
    const { laptop } = await pair(offer)
    expect(laptop).toMatchObject({ code: 'OFFER_BURNED' })
  })

  it('an offer pairs one device only', async () => {
    await pair(offer)
    const { laptop } = await pair(offer)
    expect(laptop).toMatchObject({ code: 'OFFER_USED' })
  })

  it('should refuse an expired offer, a withdrawn one and one the owner declines', async () => {
    const expired = pairing.createOffer({ relays: [], ttlMs: 1_000 })
    // the phone's clock passes the offer's expiry (the laptop's copy of the link still looks valid)
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 2_000 })
    try {
      expect((await pair({ ...expired, expiresAt: Date.now() + 1000 })).laptop).toMatchObject({
        code: 'OFFER_EXPIRED'
      })
    } finally {
      vi.useRealTimers()
    }
    const withdrawn = pairing.createOffer({ relays: [] })
    pairing.revokeOffer(withdrawn)
    expect((await pair(withdrawn)).laptop).toMatchObject({ code: 'UNKNOWN_OFFER' })
    const declined = pairing.createOffer({ relays: [] })
    expect((await pair(declined, { approve: () => false })).laptop).toMatchObject({ code: 'REJECTED' })
  })

  it('peer-id binding: a proof made for one device does not pair another (a relayed request is refused)', async () => {
    // Mallory sits between the laptop and the phone and forwards the laptop's request as her own: the proof binds
    // the laptop's peer id, so it fails for Mallory's
    const laptopKey = await generateKeyPair('Ed25519')
    const malloryKey = await generateKeyPair('Ed25519')
    const [toPhone, toLaptop] = channels()
    const [laptop, answered] = await Promise.all([
      requestPairing(toPhone, offer, { device: laptopKey, deviceName: 'laptop' }).catch((e: Error) => e),
      pairing.answer(toLaptop, peerIdFromPrivateKey(malloryKey)).catch((e: Error) => e)
    ])
    expect(answered).toMatchObject({ code: 'WRONG_SECRET' })
    expect(laptop).toMatchObject({ code: 'WRONG_SECRET' })
  })

  it('a forged accept (a certificate from someone without the secret) is refused by the new device', async () => {
    const mallory = await createIdentity()
    const { laptop } = await pair(offer, {
      tamper: {
        toInitiator: (m: Record<string, unknown>) =>
          m.t === 'accept' ? { ...m, proof: new Uint8Array(32) } : m
      }
    })
    expect(laptop).toMatchObject({ code: 'WRONG_SECRET' })
    expect(mallory.user).not.toEqual(phone.user)
  })

  it('should refuse to pair from a device without the root key', async () => {
    const { laptop } = await pair(offer)
    if (laptop instanceof Error) throw laptop
    expect(() => new DevicePairing(laptop)).toThrow(/root key/)
  })
})
