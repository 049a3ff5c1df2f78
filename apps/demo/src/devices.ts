import {
  DevicePairing,
  pairingLink,
  readDeviceCertificate,
  revokeDevice,
  statementFromBytes,
  statementToBytes
} from '@kith/identity'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import type { Identity, PairingOffer, PairingRequest, Statement } from '@kith/identity'
import type { KithPeer } from '@kith/peer'

/** One of the user's devices, as this device knows it. */
export interface OwnDevice {
  id: string
  name: string
  certificate: Statement
  /** Revoked by this device: no longer listed in the user's discovery claim. */
  removed: boolean
  thisDevice: boolean
}

/** A pairing request waiting for the person to allow or deny it. */
export interface PendingApproval {
  request: PairingRequest
  decide(allow: boolean): void
}

interface Stored {
  cert: string
  removed: boolean
}

/**
 * The user's devices as this device knows them (itself and every device it paired), persisted per tab, and the
 * pairing offers it shows. Only a device holding the root key can pair and remove devices.
 */
export class Devices {
  private readonly key: string
  private readonly stored: Stored[]
  readonly pairing?: DevicePairing
  approval?: PendingApproval
  offer?: { link: string; offer: PairingOffer; shareRoot: boolean }
  lastPaired?: string

  constructor(
    private readonly identity: Identity,
    tab: string,
    private readonly changed: () => void
  ) {
    this.key = `kith-devices-${tab}`
    const own = toString(statementToBytes(identity.certificate), 'base64')
    let stored: Stored[]
    try {
      stored = JSON.parse(localStorage.getItem(this.key) ?? '[]') as Stored[]
    } catch {
      stored = []
    }
    if (!stored.some((s) => s.cert === own)) stored.unshift({ cert: own, removed: false })
    this.stored = stored
    this.save()
    if (identity.rootSecret != null) this.pairing = new DevicePairing(identity)
  }

  list(): OwnDevice[] {
    return this.stored.map((s) => {
      const certificate = statementFromBytes(fromString(s.cert, 'base64'))
      const cert = readDeviceCertificate(certificate)
      const id = peerIdFromPublicKey(publicKeyFromRaw(cert.device)).toString()
      return {
        id,
        name: cert.name,
        certificate,
        removed: s.removed,
        thisDevice: id === this.identity.deviceId.toString()
      }
    })
  }

  /** Certificates of the devices still in use, for the discovery claim. */
  active(): Statement[] {
    return this.list()
      .filter((d) => !d.removed)
      .map((d) => d.certificate)
  }

  async handle(peer: KithPeer, onPaired: () => void): Promise<void> {
    if (this.pairing == null) return
    await this.pairing.handle(peer, {
      approve: async (request) =>
        new Promise<boolean>((resolve) => {
          this.approval = {
            request,
            decide: (allow) => {
              this.approval = undefined
              this.changed()
              resolve(allow)
            }
          }
          this.changed()
        }),
      onPaired: (result) => {
        this.stored.push({ cert: toString(result.certificate, 'base64'), removed: false })
        this.save()
        this.offer = undefined
        this.lastPaired = result.deviceName
        this.changed()
        onPaired()
      }
    })
  }

  /** A new one-time pairing link (10 minutes) for a new device to open. */
  createOffer(relays: string[], shareRoot: boolean): void {
    if (this.pairing == null) throw new RangeError('Only a device holding your root key can pair devices.')
    if (this.offer != null) this.pairing.revokeOffer(this.offer.offer)
    const offer = this.pairing.createOffer({ relays, shareRoot })
    this.offer = { offer, shareRoot, link: pairingLink(offer, `${location.origin}${location.pathname}`) }
    this.lastPaired = undefined
    this.changed()
  }

  cancelOffer(): void {
    if (this.offer != null) this.pairing?.revokeOffer(this.offer.offer)
    this.offer = undefined
    this.changed()
  }

  /** Revokes a device with the root key; it leaves the published claim. */
  remove(id: string): Statement {
    if (this.identity.rootSecret == null)
      throw new RangeError('Only a device holding your root key can remove devices.')
    const device = this.list().find((d) => d.id === id)
    if (device == null || device.thisDevice) throw new RangeError('That device cannot be removed here.')
    const revocation = revokeDevice(
      this.identity.rootSecret,
      readDeviceCertificate(device.certificate).device
    )
    const entry = this.stored.find((s) => s.cert === toString(statementToBytes(device.certificate), 'base64'))
    if (entry != null) entry.removed = true
    this.save()
    this.changed()
    return revocation
  }

  private save(): void {
    localStorage.setItem(this.key, JSON.stringify(this.stored))
  }
}
