import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import {
  certifyDevice,
  ContactBook,
  ContactKeyChangedError,
  createIdentity,
  createStatement,
  MemoryByteStore,
  UncertifiedDeviceError,
  UnknownContactError,
  VerificationMethod
} from '../src/index.ts'

describe('the contact book', () => {
  it('should add a user on first sight (trust on first use) and keep them across a reopen', async () => {
    const store = new MemoryByteStore()
    const bob = await createIdentity({ deviceName: 'bob-phone' })
    const book = await ContactBook.open(store)
    const contact = await book.observe(bob.certificate, { displayName: 'Bob' })
    expect(contact.displayName).toBe('Bob')
    expect(contact.verified).toBeUndefined()
    await book.markVerified(bob.user, VerificationMethod.Sas)

    const reopened = await ContactBook.open(store)
    const again = reopened.get(bob.user)
    expect(again?.displayName).toBe('Bob')
    expect(again?.verified?.method).toBe('sas')
    expect(again?.devices.map((d) => d.deviceId)).toEqual([bob.deviceId.toString()])
  })

  it("should accept a new device of a verified contact when the contact's root key signed it", async () => {
    const bob = await createIdentity()
    const book = await ContactBook.open(new MemoryByteStore())
    await book.observe(bob.certificate)
    await book.markVerified(bob.user, VerificationMethod.SafetyNumber)
    const laptop = await generateKeyPair('Ed25519')
    const contact = await book.observe(certifyDevice(bob.rootSecret!, laptop.publicKey.raw, 'bob-laptop'))
    expect(contact.devices).toHaveLength(2)
    expect(contact.verified?.method).toBe('safety-number')
  })

  it('should refuse a new device whose certificate the contact did not sign', async () => {
    const bob = await createIdentity()
    const mallory = await createIdentity()
    const book = await ContactBook.open(new MemoryByteStore())
    await book.observe(bob.certificate)
    const device = await generateKeyPair('Ed25519')
    // Mallory signs a certificate that names Bob as the user
    const forged = createStatement(mallory.rootSecret!, 'device-cert', {
      user: bob.user,
      device: device.publicKey.raw,
      name: 'bob?',
      at: 1
    })
    await expect(book.observe(forged)).rejects.toMatchObject({ name: UncertifiedDeviceError.name })
    expect(book.get(bob.user)?.devices).toHaveLength(1)
  })

  it('a changed contact key: should stop hard when a known device shows another root key', async () => {
    const bob = await createIdentity()
    const book = await ContactBook.open(new MemoryByteStore())
    await book.observe(bob.certificate, { displayName: 'Bob' })
    await book.markVerified(bob.user, VerificationMethod.Sas)
    // the same device key, now certified by a new root key (a reinstall, or an attacker holding the device key)
    const newRoot = await createIdentity({ device: bob.device })
    await expect(book.observe(newRoot.certificate)).rejects.toMatchObject({
      name: ContactKeyChangedError.name
    })
    expect(book.list()).toHaveLength(1)
    expect(book.get(bob.user)?.verified?.method).toBe('sas')
  })

  it('a changed contact key: should stop hard when a pinned handle resolves to another root key', async () => {
    const bob = await createIdentity()
    const squatter = await createIdentity()
    const book = await ContactBook.open(new MemoryByteStore())
    await book.observe(bob.certificate, { handle: 'Bob@Example.org ' })
    await expect(book.observe(squatter.certificate, { handle: 'bob@example.org' })).rejects.toMatchObject({
      name: ContactKeyChangedError.name
    })
    expect(book.list().map((c) => c.handles)).toEqual([['bob@example.org']])
  })

  it('should say when a contact is unknown', async () => {
    const book = await ContactBook.open(new MemoryByteStore())
    await expect(book.markVerified(new Uint8Array(32), VerificationMethod.Qr)).rejects.toMatchObject({
      name: UnknownContactError.name
    })
  })
})
