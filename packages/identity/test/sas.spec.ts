import { describe, expect, it } from 'vitest'
import {
  createIdentity,
  initiateSas,
  respondSas,
  SasCancelledError,
  SasMismatchError,
  SasProtocolError,
  UncertifiedDeviceError
} from '../src/index.ts'
import { channels } from './channels.ts'
import type { Identity, SasExchange } from '../src/index.ts'

const codeOf = (e: { emoji: { emoji: string }[]; decimal: number[] }): string =>
  `${e.emoji.map((x) => x.emoji).join('')} ${e.decimal.join('-')}`

describe('SAS verification', () => {
  let alice: Identity
  let bob: Identity

  it('should show both people the same 7 emoji and numbers, and verify both on confirm', async () => {
    alice = await createIdentity({ deviceName: 'alice-laptop' })
    bob = await createIdentity({ deviceName: 'bob-phone' })
    const [a, b] = channels()
    const [ea, eb] = await Promise.all([
      initiateSas(a, alice, bob.deviceId),
      respondSas(b, bob, alice.deviceId)
    ])
    expect(ea.emoji).toHaveLength(7)
    expect(codeOf(ea)).toBe(codeOf(eb))
    for (const n of ea.decimal) expect(n).toBeGreaterThanOrEqual(1000)
    const [seenByAlice, seenByBob] = await Promise.all([ea.confirm(), eb.confirm()])
    expect(seenByAlice.user).toEqual(bob.user)
    expect(seenByAlice.deviceName).toBe('bob-phone')
    expect(seenByBob.user).toEqual(alice.user)
  })

  it('a man in the middle who swaps both ephemeral keys: should show the two people different codes', async () => {
    alice = await createIdentity()
    bob = await createIdentity()
    // Eve relays everything but answers each side with her own keys: to do so she must reveal to Bob an
    // ephemeral key matching Alice's commitment, which she cannot; replacing the commitment too changes Alice's code
    const eve = await createIdentity()
    const [a1, e1] = channels()
    const [e2, b2] = channels()
    const [aliceSide, eveWithAlice] = await Promise.all([initiateSas(a1, alice), respondSas(e1, eve)])
    const [eveWithBob, bobSide] = await Promise.all([initiateSas(e2, eve), respondSas(b2, bob)])
    expect(codeOf(aliceSide)).not.toBe(codeOf(bobSide))
    // and the certificates show Eve, not Bob or Alice
    expect(aliceSide.remote.user).toEqual(eve.user)
    expect(bobSide.remote.user).toEqual(eve.user)
    void eveWithAlice
    void eveWithBob
  })

  it('SAS with a swapped ephemeral key: should refuse a revealed key that does not match the commitment', async () => {
    alice = await createIdentity()
    bob = await createIdentity()
    const [a, b] = channels({
      toResponder: (m) => (m.type === 'key' ? { ...m, eph: new Uint8Array(32).fill(9) } : m)
    })
    const results = await Promise.allSettled([initiateSas(a, alice), respondSas(b, bob)])
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { name: SasProtocolError.name } })
    // the initiator already holds an exchange; its confirm learns of the cancellation
    const [initiated] = results
    expect(initiated.status).toBe('fulfilled')
    await expect((initiated as PromiseFulfilledResult<SasExchange>).value.confirm()).rejects.toMatchObject({
      name: SasCancelledError.name
    })
  })

  it('should fail the MAC check when the keys were swapped after the codes were shown', async () => {
    alice = await createIdentity()
    bob = await createIdentity()
    const [a, b] = channels({
      toInitiator: (m) => (m.type === 'mac' ? { ...m, mac: new Uint8Array(32) } : m)
    })
    const [ea, eb] = await Promise.all([initiateSas(a, alice), respondSas(b, bob)])
    const [aliceResult] = await Promise.allSettled([ea.confirm(), eb.confirm()])
    expect(aliceResult).toMatchObject({ status: 'rejected', reason: { name: SasMismatchError.name } })
  })

  it('should tell the other side when a person saw different codes', async () => {
    alice = await createIdentity()
    bob = await createIdentity()
    const [a, b] = channels()
    const [ea, eb] = await Promise.all([initiateSas(a, alice), respondSas(b, bob)])
    await eb.cancel('mismatch')
    await expect(ea.confirm()).rejects.toMatchObject({ name: SasCancelledError.name, reason: 'mismatch' })
  })

  it('should refuse a certificate for another device than the one connected', async () => {
    alice = await createIdentity()
    bob = await createIdentity()
    const other = await createIdentity()
    const [a, b] = channels()
    const results = await Promise.allSettled([initiateSas(a, alice), respondSas(b, bob, other.deviceId)])
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { name: UncertifiedDeviceError.name } })
    // and the initiator learns why instead of waiting for its timeout
    expect(results[0]).toMatchObject({
      status: 'rejected',
      reason: { name: SasCancelledError.name, reason: UncertifiedDeviceError.name }
    })
  })
})
