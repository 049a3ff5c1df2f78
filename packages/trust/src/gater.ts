/**
 * A connection gater that lets in the devices of room members and nobody else, on every path: a relayed
 * connection (`denyInboundRelayedConnection`), a direct encrypted one (`denyInboundEncryptedConnection`) and a
 * WebRTC one, which skips the encryption stage (`denyInboundUpgradedConnection`). While this device holds an open
 * invite, a few strangers a minute may connect so a newcomer can redeem it; they can speak the invite protocol and
 * nothing else, because every room protocol handler checks membership again.
 *
 * A device that relays for others (`@kith/peer`'s `serveRelay`) does so for members only: a reservation
 * (`denyInboundRelayReservation`) and a relayed connection through it (`denyOutboundRelayedConnection`, both ends)
 * are refused to anyone else, strangers redeeming an invite and the peers `allow` lets in included.
 */
import { TypedEventEmitter } from 'main-event'
import type { ConnectionGater, PeerId } from '@libp2p/interface'

export type GaterHook = 'relayed' | 'encrypted' | 'upgraded' | 'reservation' | 'relay'

export interface Denial {
  peer: PeerId
  hook: GaterHook
  at: number
}

export interface GaterPolicy {
  /** Whether `peer` is a device of a member of any local room. */
  isMember(peer: PeerId): boolean
  /** Whether this device holds an invite someone may come to redeem. */
  hasOpenInvites(): boolean
}

export interface RoomGaterInit {
  /** Peers the app lets in besides room members (its contacts, the user's own devices…). @default none */
  allow?: (peer: PeerId) => boolean
  /** Strangers let in per minute while an invite is open. @default 20 */
  strangersPerMinute?: number
}

export interface RoomGaterEvents {
  denied: CustomEvent<Denial>
}

export class RoomGater extends TypedEventEmitter<RoomGaterEvents> {
  /** Pass this to `createKithPeer({ connectionGater })`. */
  readonly gater: ConnectionGater
  /** The latest denials, newest last (at most 100). */
  readonly denials: Denial[] = []
  private policy?: GaterPolicy
  private readonly allow: (peer: PeerId) => boolean
  private readonly strangersPerMinute: number
  private readonly strangers = new Map<string, number>()

  constructor(init: RoomGaterInit = {}) {
    super()
    this.allow = init.allow ?? (() => false)
    this.strangersPerMinute = init.strangersPerMinute ?? 20
    const check =
      (hook: GaterHook) =>
      (peer: PeerId): boolean =>
        this.deny(peer, hook)
    this.gater = {
      denyInboundRelayedConnection: (_relay, peer) => check('relayed')(peer),
      denyInboundEncryptedConnection: check('encrypted'),
      denyInboundUpgradedConnection: check('upgraded'),
      denyInboundRelayReservation: (peer) => this.denyRelaying(peer, 'reservation'),
      denyOutboundRelayedConnection: (source, destination) =>
        this.denyRelaying(source, 'relay') || this.denyRelaying(destination, 'relay')
    }
  }

  /** Rooms bind themselves here when they start; until then every peer is let in. */
  bind(policy: GaterPolicy | undefined): void {
    this.policy = policy
  }

  /** Whether `peer` may connect now (without counting it as a stranger). */
  allows(peer: PeerId): boolean {
    return (
      this.policy == null ||
      this.allow(peer) ||
      this.policy.isMember(peer) ||
      this.strangers.has(peer.toString())
    )
  }

  /**
   * Relaying is for room members only: not strangers, not the peers `allow` lets connect (an app open to everyone
   * would otherwise be an open relay), and nobody before the rooms are bound.
   */
  private denyRelaying(peer: PeerId, hook: GaterHook): boolean {
    if (this.policy?.isMember(peer) === true) return false
    this.denied(peer, hook, Date.now())
    return true
  }

  private denied(peer: PeerId, hook: GaterHook, at: number): void {
    const denial = { peer, hook, at }
    this.denials.push(denial)
    if (this.denials.length > 100) this.denials.shift()
    this.safeDispatchEvent('denied', { detail: denial })
  }

  private deny(peer: PeerId, hook: GaterHook): boolean {
    if (this.allows(peer)) return false
    const now = Date.now()
    for (const [id, at] of this.strangers) if (now - at > 60_000) this.strangers.delete(id)
    if (this.policy?.hasOpenInvites() === true && this.strangers.size < this.strangersPerMinute) {
      this.strangers.set(peer.toString(), now)
      return false
    }
    this.denied(peer, hook, now)
    return true
  }

  /** Forgets a stranger (its invite exchange ended). */
  release(peer: PeerId): void {
    this.strangers.delete(peer.toString())
  }
}
