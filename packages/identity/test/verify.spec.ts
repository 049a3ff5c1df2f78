import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519 } from '@noble/curves/ed25519.js'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  certifyDevice,
  createIdentity,
  createStatement,
  decode,
  deviceSecret,
  encode,
  InvalidEncodingError,
  InvalidSignatureError,
  RevocationList,
  revokeDevice,
  RevokedDeviceError,
  signAs,
  statementFromBytes,
  statementToBytes,
  TooLargeError,
  UncertifiedDeviceError,
  UnexpectedSignerError,
  verify,
  verifyAsync,
  WrongTypeError
} from '../src/index.ts'
import { isCanonicalPoint, verifyNative } from '../src/native-ed25519.ts'
import type { Identity } from '../src/index.ts'

let alice: Identity
let mallory: Identity

beforeAll(async () => {
  alice = await createIdentity({ deviceName: 'laptop' })
  mallory = await createIdentity({ deviceName: 'evil' })
})

const errorNamed = (name: string): unknown => expect.objectContaining({ name })

describe('verify', () => {
  it('should accept what a certified device of the user signed, and say who signed it', () => {
    const verified = verify(signAs(alice, 'note', { text: 'hi' }), { type: 'note', from: alice.deviceId })
    expect(verified.body).toEqual({ text: 'hi' })
    expect(verified.user).toEqual(alice.user)
    expect(verified.deviceId.equals(alice.deviceId)).toBe(true)
    expect(verified.deviceName).toBe('laptop')
  })

  it('should refuse a statement of another type (a signature for one type never counts for another)', () => {
    expect(() => verify(signAs(alice, 'note', 1), { type: 'vote' })).toThrow(errorNamed(WrongTypeError.name))
    // relabelled: the type changed but the signature was made over the old domain
    const statement = statementFromBytes(signAs(alice, 'note', 1))
    statement.t = 'vote'
    expect(() => verify(statementToBytes(statement), { type: 'vote' })).toThrow(
      errorNamed(InvalidSignatureError.name)
    )
  })

  it('forged authorship: should refuse a statement claiming another user', () => {
    // Mallory's device signs a payload that names Alice as the user, with Mallory's own certificate
    const forged = createStatement(
      deviceSecret(mallory.device),
      'note',
      { user: alice.user, at: 1, body: 'I am Alice' },
      mallory.certificate
    )
    expect(() => verify(statementToBytes(forged), { type: 'note' })).toThrow(
      errorNamed(UncertifiedDeviceError.name)
    )
  })

  it("a device not on the user's chain: should refuse a certificate signed by someone else's root", () => {
    // Mallory certifies her own device as Alice's, signing the certificate with her own root key
    const fakeCert = createStatement(mallory.rootSecret!, 'device-cert', {
      user: alice.user,
      device: mallory.device.publicKey.raw,
      name: 'alice?',
      at: 1
    })
    const forged = createStatement(
      deviceSecret(mallory.device),
      'note',
      { user: alice.user, at: 1, body: 'x' },
      fakeCert
    )
    expect(() => verify(statementToBytes(forged), { type: 'note' })).toThrow(
      errorNamed(UncertifiedDeviceError.name)
    )
  })

  it('should refuse a certificate issued to another device of the user', async () => {
    const stolenCertDevice = await generateKeyPair('Ed25519')
    const forged = createStatement(
      deviceSecret(stolenCertDevice),
      'note',
      { user: alice.user, at: 1, body: 'x' },
      alice.certificate
    )
    expect(() => verify(statementToBytes(forged), { type: 'note' })).toThrow(
      errorNamed(UncertifiedDeviceError.name)
    )
  })

  it('should refuse a statement with no certificate, and a certificate that carries one', () => {
    const bare = createStatement(deviceSecret(alice.device), 'note', { user: alice.user, at: 1, body: 'x' })
    expect(() => verify(statementToBytes(bare), { type: 'note' })).toThrow(
      errorNamed(UncertifiedDeviceError.name)
    )
    const nested = statementFromBytes(signAs(alice, 'note', 1))
    nested.c = { ...nested.c!, c: nested.c }
    expect(() => verify(encode(nested), { type: 'note' })).toThrow(errorNamed(InvalidEncodingError.name))
  })

  it('a revoked device: should refuse what it signs once the revocation is known', async () => {
    const phone = await generateKeyPair('Ed25519')
    const phoneIdentity: Identity = {
      ...alice,
      device: phone,
      deviceId: peerIdFromPrivateKey(phone),
      certificate: certifyDevice(alice.rootSecret!, phone.publicKey.raw, 'phone')
    }
    const signed = signAs(phoneIdentity, 'note', 'from the phone')
    const devices = new RevocationList()
    expect(verify(signed, { type: 'note', devices }).deviceName).toBe('phone')
    devices.add(revokeDevice(alice.rootSecret!, phone.publicKey.raw))
    expect(() => verify(signed, { type: 'note', devices })).toThrow(errorNamed(RevokedDeviceError.name))
    // other devices of the user are unaffected
    expect(verify(signAs(alice, 'note', 'laptop'), { type: 'note', devices }).deviceName).toBe('laptop')
  })

  it("should not let one user revoke another user's device", () => {
    const revocation = createStatement(mallory.rootSecret!, 'device-revoke', {
      user: alice.user,
      device: alice.device.publicKey.raw,
      at: 1
    })
    expect(() => new RevocationList().add(revocation)).toThrow(errorNamed(WrongTypeError.name))
  })

  it('peer-id spoofing: should refuse a direct message signed by another device than the sender', () => {
    expect(() => verify(signAs(alice, 'note', 1), { type: 'note', from: mallory.deviceId })).toThrow(
      errorNamed(UnexpectedSignerError.name)
    )
  })

  it('should refuse a tampered payload', () => {
    const statement = statementFromBytes(signAs(alice, 'note', { amount: 1 }))
    statement.p = encode({ ...(decode(statement.p, 1024) as object), body: { amount: 1000 } })
    expect(() => verify(statementToBytes(statement), { type: 'note' })).toThrow(
      errorNamed(InvalidSignatureError.name)
    )
  })

  it('malleability: should refuse a signature whose S is not reduced (S + L), which lax verifiers accept', () => {
    const statement = statementFromBytes(signAs(alice, 'note', 1))
    const L = 2n ** 252n + 27742317777372353535851937790883648493n
    let s = 0n
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(statement.g[32 + i]!)
    const bigger = s + L
    const g = new Uint8Array(statement.g)
    for (let i = 0; i < 32; i++) g[32 + i] = Number((bigger >> BigInt(8 * i)) & 0xffn)
    // S + L still fits the 32 bytes (S < L < 2^253)
    statement.g = g
    expect(() => verify(statementToBytes(statement), { type: 'note' })).toThrow(
      errorNamed(InvalidSignatureError.name)
    )
  })

  it('should refuse a small-order public key with an all-zero signature', () => {
    // the identity point: with zip215 rules, (R = identity, S = 0) verifies any message
    const identityPoint = new Uint8Array(32)
    identityPoint[0] = 1
    const statement = statementFromBytes(signAs(alice, 'note', 1))
    statement.s = identityPoint
    statement.g = new Uint8Array(64)
    statement.g[0] = 1
    expect(() => verify(statementToBytes(statement), { type: 'note' })).toThrow(
      expect.objectContaining({ name: expect.stringMatching(/Uncertified|InvalidSignature/) })
    )
    expect(ed25519.verify(statement.g, new Uint8Array([1]), identityPoint, { zip215: false })).toBe(false)
  })

  it('should refuse oversized input before decoding it', () => {
    const big = signAs(alice, 'note', 'x'.repeat(70_000))
    expect(() => verify(big, { type: 'note' })).toThrow(errorNamed(TooLargeError.name))
  })

  it('should answer every mutation of a valid statement with a typed error or the original meaning', () => {
    const valid = signAs(alice, 'note', { text: 'hello' })
    const typed = [
      InvalidEncodingError,
      InvalidSignatureError,
      WrongTypeError,
      UncertifiedDeviceError,
      TooLargeError
    ].map((e) => e.name)
    fc.assert(
      fc.property(fc.nat(valid.byteLength - 1), fc.integer({ min: 1, max: 255 }), (index, xor) => {
        const mutated = new Uint8Array(valid)
        mutated[index] = mutated[index]! ^ xor
        try {
          const result = verify(mutated, { type: 'note' })
          // a flip that survived must not have changed who said what
          expect(result.body).toEqual({ text: 'hello' })
          expect(result.user).toEqual(alice.user)
        } catch (err: unknown) {
          expect(typed).toContain((err as Error).name)
        }
      }),
      { numRuns: 1_500 }
    )
  })
})

describe('verify, many times over', () => {
  it('should still refuse a tampered certificate after the genuine one was verified', async () => {
    const bob = await createIdentity({ deviceName: 'bob' })
    const signed = signAs(bob, 'note', 1)
    expect(verify(signed, { type: 'note' }).deviceName).toBe('bob')
    const statement = statementFromBytes(signed)
    const cert = { ...statement.c! }
    cert.p = encode({ ...(decode(cert.p, 1024) as object), name: 'not bob' })
    statement.c = cert
    expect(() => verify(statementToBytes(statement), { type: 'note' })).toThrow(
      errorNamed(UncertifiedDeviceError.name)
    )
    // and the genuine one keeps verifying
    expect(verify(signed, { type: 'note' }).deviceName).toBe('bob')
  })
})

describe('verifyAsync (the signature checked by WebCrypto)', () => {
  const outcome = async (run: () => unknown): Promise<unknown> => {
    try {
      const v = (await run()) as {
        type: string
        user: Uint8Array
        deviceName: string
        at: number
        body: unknown
      }
      return { ok: v.type, user: v.user, deviceName: v.deviceName, at: v.at, body: v.body }
    } catch (err: unknown) {
      return { error: (err as Error).name }
    }
  }

  it('should check signatures with the platform here (Node has Ed25519 in WebCrypto), and say what verify says', async () => {
    const message = new TextEncoder().encode('kith')
    const signature = ed25519.sign(message, deviceSecret(alice.device))
    expect(await verifyNative(signature, message, ed25519.getPublicKey(deviceSecret(alice.device)))).toBe(
      true
    )
    const signed = signAs(alice, 'note', { text: 'hi' })
    expect(await verifyAsync(signed, { type: 'note' })).toEqual(verify(signed, { type: 'note' }))
  })

  it('should agree with verify on every mutation of a valid statement', async () => {
    const valid = signAs(alice, 'note', { text: 'hello' })
    await fc.assert(
      fc.asyncProperty(fc.nat(valid.byteLength - 1), fc.integer({ min: 1, max: 255 }), async (index, xor) => {
        const mutated = new Uint8Array(valid)
        mutated[index] = mutated[index]! ^ xor
        expect(await outcome(async () => verifyAsync(mutated, { type: 'note' }))).toEqual(
          await outcome(() => verify(mutated, { type: 'note' }))
        )
      }),
      { numRuns: 500 }
    )
  })

  it('malleability and odd points: should refuse S + L, a non-canonical R and a small-order key, as the strict rule does', async () => {
    const secret = deviceSecret(alice.device)
    const publicKey = ed25519.getPublicKey(secret)
    const message = new TextEncoder().encode('kith')
    const signature = ed25519.sign(message, secret)
    const L = 2n ** 252n + 27742317777372353535851937790883648493n
    let s = 0n
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!)
    const unreduced = new Uint8Array(signature)
    for (let i = 0; i < 32; i++) unreduced[32 + i] = Number(((s + L) >> BigInt(8 * i)) & 0xffn)
    expect(await verifyNative(unreduced, message, publicKey)).toBe(false)

    // y = p: the encoding of y = 0 plus p, which lax decoders reduce
    const notCanonical = new Uint8Array(32).fill(0xff)
    notCanonical[0] = 0xed
    notCanonical[31] = 0x7f
    expect(isCanonicalPoint(notCanonical)).toBe(false)
    expect(isCanonicalPoint(publicKey)).toBe(true)
    const badR = new Uint8Array(signature)
    badR.set(notCanonical, 0)
    expect(await verifyNative(badR, message, publicKey)).toBe(false)
    expect(await verifyNative(signature, message, notCanonical)).toBe(false)

    // the identity point as the key, R = identity, S = 0: the cofactorless equation alone holds for any message
    const identityPoint = new Uint8Array(32)
    identityPoint[0] = 1
    const zero = new Uint8Array(64)
    zero[0] = 1
    expect(await verifyNative(zero, message, identityPoint)).toBe(false)
    expect(ed25519.verify(zero, message, identityPoint, { zip215: false })).toBe(false)
  })
})
