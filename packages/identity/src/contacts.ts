import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { equals } from 'uint8arrays/equals'
import { toString } from 'uint8arrays/to-string'
import { readDeviceCertificate } from './certificates.ts'
import { VERSION } from './constants.ts'
import { decode, encode, read } from './encoding.ts'
import {
  ContactKeyChangedError,
  InvalidParametersError,
  KeystoreError,
  UnknownContactError
} from './errors.ts'
import { userIdFromRoot } from './identity.ts'
import { statementFromBytes, statementToBytes } from './statement.ts'
import type { UserId } from './identity.ts'
import type { Statement } from './statement.ts'
import type { ByteStore } from './store.ts'

export const VerificationMethod = {
  Sas: 'sas',
  SafetyNumber: 'safety-number',
  Qr: 'qr'
} as const
export type VerificationMethod = (typeof VerificationMethod)[keyof typeof VerificationMethod]

export interface ContactDevice {
  deviceId: string
  name: string
  /** The device certificate, signed by the contact's root key. */
  certificate: Uint8Array
}

export interface Contact {
  user: Uint8Array
  userId: UserId
  displayName: string
  devices: ContactDevice[]
  /** Set once a person compared codes; cleared never (a changed key is a new contact). */
  verified?: { method: VerificationMethod; at: number }
  firstSeen: number
  /** Names this contact was pinned under (an email address found by discovery, a link's name). */
  handles: string[]
}

const MAX_CONTACTS_BYTES = 4 * 1024 * 1024
const MAX_DISPLAY_NAME = 64
const MAX_HANDLE = 254

const keyOf = (user: Uint8Array): string => toString(user, 'base64url')

/**
 * The people a user knows, keyed by their root keys: trust on first use, a hard stop when a known device or a
 * pinned handle shows up with another root key, and new devices accepted only with the contact's root signature.
 */
export class ContactBook {
  private readonly contacts = new Map<string, Contact>()

  private constructor(private readonly store: ByteStore) {}

  /** Opens the book kept in `store` (a `FileByteStore`, `IDBByteStore` or `MemoryByteStore`). */
  static async open(store: ByteStore): Promise<ContactBook> {
    const book = new ContactBook(store)
    const bytes = await store.get()
    if (bytes != null) book.load(bytes)
    return book
  }

  list(): Contact[] {
    return [...this.contacts.values()].map((c) => structuredClone(c))
  }

  get(user: Uint8Array): Contact | undefined {
    const contact = this.contacts.get(keyOf(user))
    return contact == null ? undefined : structuredClone(contact)
  }

  /** The contact a device belongs to, if known. */
  byDevice(deviceId: string): Contact | undefined {
    for (const contact of this.contacts.values()) {
      if (contact.devices.some((d) => d.deviceId === deviceId)) return structuredClone(contact)
    }
    return undefined
  }

  /**
   * Records what a device's certificate says: first sight of a user adds them (trust on first use); a new device of
   * a known user is added once its certificate, signed by that user's root key, checks out. A device already known
   * under another root key, or a `handle` pinned to another root key, throws `ContactKeyChangedError` and changes
   * nothing.
   */
  async observe(
    certificate: Statement | Uint8Array,
    options: { displayName?: string; handle?: string } = {}
  ): Promise<Contact> {
    const statement = certificate instanceof Uint8Array ? statementFromBytes(certificate) : certificate
    const cert = readDeviceCertificate(statement)
    const deviceId = peerIdFromPublicKey(publicKeyFromRaw(cert.device)).toString()
    const owner = this.byDevice(deviceId)
    if (owner != null && !equals(owner.user, cert.user)) {
      throw new ContactKeyChangedError(
        `device ${deviceId} belonged to ${owner.displayName}, whose key was different`
      )
    }
    const handle = options.handle?.trim().toLowerCase()
    if (handle != null) {
      if (handle === '' || handle.length > MAX_HANDLE)
        throw new InvalidParametersError('a handle has 1-254 characters')
      const pinned = [...this.contacts.values()].find((c) => c.handles.includes(handle))
      if (pinned != null && !equals(pinned.user, cert.user)) {
        throw new ContactKeyChangedError(`"${handle}" was ${pinned.displayName}, with a different key`)
      }
    }
    const displayName = (options.displayName ?? cert.name).slice(0, MAX_DISPLAY_NAME)
    const existing = this.contacts.get(keyOf(cert.user))
    const contact: Contact = existing ?? {
      user: cert.user,
      userId: userIdFromRoot(cert.user),
      displayName,
      devices: [],
      firstSeen: Date.now(),
      handles: []
    }
    if (!contact.devices.some((d) => d.deviceId === deviceId)) {
      contact.devices.push({ deviceId, name: cert.name, certificate: statementToBytes(statement) })
    }
    if (handle != null && !contact.handles.includes(handle)) contact.handles.push(handle)
    this.contacts.set(keyOf(cert.user), contact)
    await this.save()
    return structuredClone(contact)
  }

  /** Marks a contact verified after its person compared codes (SAS, safety number or QR). */
  async markVerified(user: Uint8Array, method: VerificationMethod): Promise<Contact> {
    const contact = this.contacts.get(keyOf(user))
    if (contact == null) throw new UnknownContactError()
    contact.verified = { method, at: Date.now() }
    await this.save()
    return structuredClone(contact)
  }

  async rename(user: Uint8Array, displayName: string): Promise<void> {
    const contact = this.contacts.get(keyOf(user))
    if (contact == null) throw new UnknownContactError()
    contact.displayName = displayName.slice(0, MAX_DISPLAY_NAME)
    await this.save()
  }

  async remove(user: Uint8Array): Promise<void> {
    this.contacts.delete(keyOf(user))
    await this.save()
  }

  private async save(): Promise<void> {
    await this.store.put(
      encode({
        v: VERSION,
        contacts: [...this.contacts.values()].map((c) => ({
          name: c.displayName,
          at: c.firstSeen,
          handles: c.handles,
          devices: c.devices.map((d) => d.certificate),
          ...(c.verified != null ? { verified: { method: c.verified.method, at: c.verified.at } } : {})
        }))
      })
    )
  }

  /** Rebuilds the book from its stored form, re-checking every certificate. */
  private load(bytes: Uint8Array): void {
    try {
      const map = read.map(decode(bytes, MAX_CONTACTS_BYTES), 'contact book')
      if (read.uint(map, 'v') !== VERSION) throw new KeystoreError(`contact book version is not ${VERSION}`)
      if (!Array.isArray(map.contacts)) throw new KeystoreError('contact book has no contacts list')
      for (const entry of map.contacts) {
        const c = read.map(entry, 'contact')
        const devices = (Array.isArray(c.devices) ? c.devices : []).map((d: unknown) => {
          if (!(d instanceof Uint8Array)) throw new KeystoreError('a stored device is not a certificate')
          const statement = statementFromBytes(d)
          const cert = readDeviceCertificate(statement)
          return {
            cert,
            device: {
              deviceId: peerIdFromPublicKey(publicKeyFromRaw(cert.device)).toString(),
              name: cert.name,
              certificate: d
            }
          }
        })
        const first = devices[0]
        if (first == null) continue
        if (devices.some((d) => !equals(d.cert.user, first.cert.user)))
          throw new KeystoreError('a stored contact mixes users')
        const verified = c.verified == null ? undefined : read.map(c.verified, 'verified')
        const method = verified?.method
        this.contacts.set(keyOf(first.cert.user), {
          user: first.cert.user,
          userId: userIdFromRoot(first.cert.user),
          displayName: read.string(c, 'name', MAX_DISPLAY_NAME),
          devices: devices.map((d) => d.device),
          firstSeen: read.uint(c, 'at'),
          handles: (Array.isArray(c.handles) ? c.handles : []).filter(
            (h: unknown): h is string => typeof h === 'string'
          ),
          ...(verified != null && Object.values(VerificationMethod).includes(method as VerificationMethod)
            ? { verified: { method: method as VerificationMethod, at: read.uint(verified, 'at') } }
            : {})
        })
      }
    } catch (err: unknown) {
      if (err instanceof KeystoreError) throw err
      throw new KeystoreError('the stored contact book cannot be read', { cause: err })
    }
  }
}
