import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { ed25519Signer, ed25519Verifier } from '../src/ed25519.ts'

describe('Ed25519 with keys imported once', () => {
  it('signs what the libp2p key verifies, and verifies what the libp2p key signs', async () => {
    const key = await generateKeyPair('Ed25519')
    const sign = ed25519Signer(key)
    const verify = ed25519Verifier()
    const message = new TextEncoder().encode('an update')
    const ours = await sign(message)
    expect(await key.publicKey.verify(message, ours)).toBe(true)
    expect(await verify(key.publicKey, message, await key.sign(message))).toBe(true)
    // the second use takes the imported key
    expect(await verify(key.publicKey, message, await sign(message))).toBe(true)
  })

  it('refuses a signature by another key, over another message, or of the wrong length', async () => {
    const key = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const verify = ed25519Verifier()
    const message = new TextEncoder().encode('an update')
    const signature = await ed25519Signer(key)(message)
    expect(await verify(other.publicKey, message, signature)).toBe(false)
    expect(await verify(key.publicKey, new TextEncoder().encode('another'), signature)).toBe(false)
    expect(await verify(key.publicKey, message, signature.subarray(0, 63))).toBe(false)
    const flipped = signature.slice()
    flipped[10] = (flipped[10] ?? 0) ^ 1
    expect(await verify(key.publicKey, message, flipped)).toBe(false)
  })
})
