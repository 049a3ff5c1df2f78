import { createIdentity, handleSas, SasCancelledError, startSas } from '@kith/identity'
import { afterEach, describe, expect, it } from 'vitest'
import { startPeer } from './fixtures/nodes.ts'
import type { Identity, SasExchange } from '@kith/identity'
import type { KithPeer } from '@kith/peer'

describe('SAS between two devices over libp2p', () => {
  const peers: KithPeer[] = []

  afterEach(async () => {
    await Promise.all(peers.splice(0).map(async (p) => p.stop()))
  })

  /** Alice's device starts a SAS exchange with Bob's; resolves with both ends once the code is known. */
  async function exchange(): Promise<{
    alice: Identity
    bob: Identity
    a: KithPeer
    started: SasExchange
    answered: SasExchange
  }> {
    const alice = await createIdentity({ deviceName: 'alice' })
    const bob = await createIdentity({ deviceName: 'bob' })
    const a = await startPeer({ privateKey: alice.device })
    const b = await startPeer({ privateKey: bob.device })
    peers.push(a, b)
    const incoming = new Promise<SasExchange>((resolve, reject) => {
      void handleSas(b, bob, { onExchange: resolve, onError: reject })
    })
    await a.dial(b.getMultiaddrs()[0]!)
    const started = await startSas(a, alice, b.peerId)
    return { alice, bob, a, started, answered: await incoming }
  }

  it('should show both devices the same code and verify each other on confirm', async () => {
    const { alice, bob, a, started, answered } = await exchange()
    expect(started.emoji.map((e) => e.name)).toEqual(answered.emoji.map((e) => e.name))
    expect(answered.remote.deviceId.equals(a.peerId)).toBe(true)
    const [aliceSaw, bobSaw] = await Promise.all([started.confirm(), answered.confirm()])
    expect(aliceSaw.user).toEqual(bob.user)
    expect(bobSaw.user).toEqual(alice.user)
  })

  it('should let one person stop the exchange when the codes differ', async () => {
    const { started, answered } = await exchange()
    await answered.cancel('mismatch')
    await expect(started.confirm()).rejects.toMatchObject({
      name: SasCancelledError.name,
      reason: 'mismatch'
    })
  })
})
