import {
  addDevice,
  ContactBook,
  Discovery,
  DISCOVERY_NAMESPACE,
  discoveryNamespace,
  exportBackup,
  handleSas,
  IDBByteStore,
  IDBKeystore,
  importBackup,
  loadOrCreateIdentity,
  pairWith,
  startSas
} from '@kith/identity'
import { connectionKind, createKithPeer, createPersistentDatastore, RelayState } from '@kith/peer'
import { IndexedDBDocStore, Sync } from '@kith/sync'
import { RoomGater, Rooms } from '@kith/trust'
import { peerIdFromString } from '@libp2p/peer-id'
import { Chat } from './chat.ts'
import { RoomChat } from './room-chat.ts'
import { Devices } from './devices.ts'
import { Verifications } from './verification.ts'
import type { Identity, LookupResult, PairingOffer, PublishResult } from '@kith/identity'
import type { Room } from '@kith/trust'
import type { DemoConfig } from './config.ts'
import type { ConnectionKind, KithPeer, RelayStatus } from '@kith/peer'
import type { Connection } from '@libp2p/interface'

export interface ConnectionView {
  id: string
  peer: string
  kind: ConnectionKind
  /** True for the relay itself. */
  isRelay: boolean
  remoteAddr: string
  direction: 'inbound' | 'outbound'
  openedAt: number
  rttMs?: number
}

export interface NodeView {
  peerId: string
  relays: RelayStatus[]
  /** Room members holding a reservation for this device while no relay is reachable. */
  fallbackRelays: Array<{ peer: string; name?: string }>
  connections: ConnectionView[]
  reachable: boolean
}

export function tabId(): string {
  const tab = sessionStorage.getItem('kith-tab') ?? crypto.randomUUID().slice(0, 8)
  sessionStorage.setItem('kith-tab', tab)
  return tab
}

export const KIND_LABELS: Record<ConnectionKind, string> = {
  webrtc: 'WebRTC direct',
  relayed: 'Relayed (signaling only)',
  websockets: 'WebSockets',
  tcp: 'TCP',
  other: 'Other'
}

/** The page's peer and everything the views show about it, with one subscription for changes. */
export class DemoNode {
  readonly chat: Chat
  private readonly listeners = new Set<() => void>()
  private readonly relayIds: Set<string>
  private timer?: ReturnType<typeof setInterval>

  readonly verifications: Verifications
  readonly devices: Devices
  readonly discovery: Discovery
  readonly rooms: Rooms
  /** Shared documents in rooms (notes, list, canvas), stored in IndexedDB per tab. */
  readonly sync: Sync
  /** The last refused sync message or failed catch-up per room, shown in the status bar. */
  readonly syncRejected = new Map<string, { text: string; at: number }>()
  readonly roomChat: RoomChat
  readonly gater: RoomGater
  /** Room alerts: wrong PINs on this device's invites, burned or reused invites. */
  readonly alerts: Array<{ room: string; text: string; at: number; impostor?: Uint8Array }> = []
  /** The identifier this user published, and how that went. */
  published?: { email: string; result?: PublishResult; error?: string; busy: boolean }

  readonly peer: KithPeer
  readonly config: DemoConfig
  readonly identity: Identity
  readonly contacts: ContactBook

  private constructor(parts: {
    peer: KithPeer
    config: DemoConfig
    identity: Identity
    contacts: ContactBook
    gater: RoomGater
  }) {
    const { peer, config, identity, contacts, gater } = parts
    this.peer = peer
    this.config = config
    this.identity = identity
    this.contacts = contacts
    this.gater = gater
    this.rooms = new Rooms({
      peer,
      identity,
      gater,
      store: new IDBByteStore(`kith-rooms-${tabId()}`, 'rooms'),
      relays: () => config.relays,
      // members relay each other's signaling while the relay is down
      fallbackRelays: peer.services.relays
    })
    this.roomChat = new RoomChat(peer, this.rooms, () => this.changed())
    this.sync = new Sync({
      peer,
      rooms: this.rooms,
      identity,
      appId: 'demo',
      store: new IndexedDBDocStore(`kith-sync-${tabId()}:`)
    })
    this.relayIds = new Set(peer.services.relays.getRelays().map((r) => r.peerId))
    this.chat = new Chat(peer, (connection) => KIND_LABELS[connectionKind(connection)])
    this.verifications = new Verifications(contacts, () => this.changed())
    this.devices = new Devices(identity, tabId(), () => this.changed())
    this.discovery = new Discovery(peer.services.dht, { appId: 'demo' })
  }

  /** Publishes a claim to `email` listing every device still in use; remembered and renewed on each start. */
  async publishEmail(email: string): Promise<PublishResult> {
    this.published = { email, busy: true }
    this.changed()
    try {
      const result = await this.discovery.publish(this.identity, email, { devices: this.devices.active() })
      this.published = { email, result, busy: false }
      localStorage.setItem(`kith-email-${tabId()}`, email)
      return result
    } catch (err: unknown) {
      this.published = { email, error: (err as Error).message, busy: false }
      throw err
    } finally {
      this.changed()
    }
  }

  async lookupEmail(email: string): Promise<LookupResult> {
    return this.discovery.lookup(email)
  }

  /** This tab becomes a new device of the user who made `offer`; the page reloads after. */
  async pairWith(offer: PairingOffer, deviceName: string): Promise<void> {
    const identity = await pairWith(this.peer, offer, { device: this.identity.device, deviceName })
    const keystore = DemoNode.keystore()
    await keystore.save(identity)
    await keystore.close()
    localStorage.removeItem(`kith-devices-${tabId()}`)
    localStorage.removeItem(`kith-email-${tabId()}`)
  }

  /** Removes (revokes) one of the user's devices and republishes the claim without it. */
  async removeDevice(id: string): Promise<void> {
    this.devices.remove(id)
    if (this.published?.email != null) await this.publishEmail(this.published.email)
  }

  /** Where this tab keeps its identity: one keystore per tab, so two tabs are two people. */
  static keystore(): IDBKeystore {
    return new IDBKeystore(`kith-identity-${tabId()}`)
  }

  /** Restores a user from a backup into this tab, as a new device of that user; the page reloads after. */
  static async restore(backup: Uint8Array, passphrase: string): Promise<void> {
    const restored = await importBackup(backup, passphrase)
    const identity =
      restored.rootSecret != null ? await addDevice(restored, { deviceName: `browser ${tabId()}` }) : restored
    const keystore = DemoNode.keystore()
    await keystore.save(identity)
    await keystore.close()
  }

  async exportBackup(passphrase: string): Promise<Uint8Array> {
    return exportBackup(this.identity, passphrase)
  }

  /** Starts a SAS verification with another device. */
  async verify(deviceId: string): Promise<void> {
    const exchange = await startSas(this.peer, this.identity, peerIdFromString(deviceId))
    this.verifications.add(exchange, 'out')
  }

  static async start(config: DemoConfig): Promise<DemoNode> {
    // everything per tab keeps two tabs of one browser profile apart (two peers, as two people would be)
    const tab = tabId()
    const keystore = DemoNode.keystore()
    const identity = await loadOrCreateIdentity(keystore, { deviceName: `browser ${tab}` })
    await keystore.close()
    const contacts = await ContactBook.open(new IDBByteStore(`kith-contacts-${tab}`, 'contacts'))
    const datastore = await createPersistentDatastore(`kith-demo-${tab}`)
    // who may connect: everyone (the chat playground), or only room members, contacts and this user's devices
    const holder: { node?: DemoNode } = {}
    const gater = new RoomGater({
      allow: (peer) => {
        const node = holder.node
        if (node == null || node.openToAll) return true
        const id = peer.toString()
        return node.contacts.byDevice(id) != null || node.devices.list().some((d) => d.id === id)
      }
    })
    const peer = await createKithPeer({
      connectionGater: gater.gater,
      appId: 'demo',
      relays: config.relays,
      datastore,
      // the identity's device key is the peer's key: the device id is the peer id
      privateKey: identity.device,
      // the demo runs against a relay on this machine or LAN
      allowPrivateAddresses: true,
      // read (and check) discovery claims found on the DHT
      dhtNamespaces: { [DISCOVERY_NAMESPACE]: discoveryNamespace() },
      // relay signaling for the other members of this device's rooms (the gater refuses everyone else)
      serveRelay: true
    })
    const node = new DemoNode({ peer, config, identity, contacts, gater })
    holder.node = node
    node.openToAll = localStorage.getItem(`kith-closed-${tab}`) == null
    await node.chat.start()
    await node.roomChat.start()
    await node.rooms.start()
    await node.sync.start()
    node.sync.addEventListener('status', () => node.changed())
    node.sync.addEventListener('rejected', (event) => {
      node.syncRejected.set(event.detail.room, { text: event.detail.error.message, at: Date.now() })
      node.changed()
    })
    node.rooms.addEventListener('change', (event) => {
      if (event.detail != null) node.watch(event.detail)
      node.changed()
    })
    for (const room of node.rooms.list()) node.watch(room)
    gater.addEventListener('denied', () => node.changed())
    await handleSas(peer, identity, { onExchange: (exchange) => node.verifications.add(exchange, 'in') })
    await node.devices.handle(peer, () => {
      // a new device: list it in the published claim too
      if (node.published?.email != null) node.publishEmail(node.published.email).catch(() => undefined)
    })
    const email = localStorage.getItem(`kith-email-${tab}`)
    if (email != null && identity.rootSecret != null) {
      node.published = { email, busy: false }
      // claims expire and DHT servers forget: renew once a relay is reserved
      const renew = (): void => {
        if (!node.view().reachable) return
        peer.services.relays.removeEventListener('relay:status', renew)
        node.publishEmail(email).catch(() => undefined)
      }
      peer.services.relays.addEventListener('relay:status', renew)
      renew()
    }
    const changed = (): void => node.changed()
    for (const event of ['connection:open', 'connection:close', 'self:peer:update'] as const) {
      peer.addEventListener(event, changed)
    }
    peer.services.relays.addEventListener('relay:status', changed)
    peer.services.relays.addEventListener('relay:fallbacks', changed)
    node.chat.subscribe(changed)
    // round-trip times and "retrying in" countdowns move on their own
    node.timer = setInterval(changed, 1_000)
    return node
  }

  /** Whether peers outside rooms, contacts and this user's devices may connect (the chat playground). */
  openToAll = true

  setOpenToAll(open: boolean): void {
    this.openToAll = open
    if (open) localStorage.removeItem(`kith-closed-${tabId()}`)
    else localStorage.setItem(`kith-closed-${tabId()}`, '1')
    this.changed()
  }

  private readonly watched = new Set<string>()

  /** Turns a room's invite events into alerts the person sees. */
  watch(room: Room): void {
    if (this.watched.has(room.id)) return
    this.watched.add(room.id)
    const alert = (text: string, impostor?: Uint8Array): void => {
      this.alerts.unshift({ room: room.id, text, at: Date.now(), ...(impostor != null ? { impostor } : {}) })
      this.alerts.splice(20)
      this.changed()
    }
    room.addEventListener('invite:failed', (e) => {
      alert(
        `Someone tried one of your invites to “${room.name}” with a wrong PIN (${e.detail.failures} of 3).`
      )
    })
    room.addEventListener('invite:burned', () => {
      alert(
        `An invite to “${room.name}” took three wrong PINs and no longer works. If you did not expect this, the link was stolen.`
      )
    })
    room.addEventListener('invite:reused', (e) => {
      alert(
        `Someone else tried an invite to “${room.name}” that was already used. The person admitted with it may be an impostor: compare their safety number${e.detail.admitted != null ? ` (${e.detail.admitted.name})` : ''}.`,
        e.detail.admitted?.user
      )
    })
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  changed(): void {
    for (const listener of this.listeners) listener()
  }

  view(): NodeView {
    const relays = this.peer.services.relays.getRelays()
    return {
      peerId: this.peer.peerId.toString(),
      relays,
      fallbackRelays: this.peer.services.relays
        .getFallbackRelays()
        .map((peer) => ({ peer, name: this.memberName(peer) })),
      connections: this.peer.getConnections().map((c) => this.connectionView(c)),
      reachable: relays.some((r) => r.state === RelayState.Reserved)
    }
  }

  /** The name of the room member whose device `peer` is, if any. */
  private memberName(peer: string): string | undefined {
    for (const room of this.rooms.list()) {
      const member = room.state.members.find((m) => m.devices.some((d) => d.deviceId.toString() === peer))
      if (member != null) return member.name
    }
    return undefined
  }

  private connectionView(connection: Connection): ConnectionView {
    const peer = connection.remotePeer.toString()
    return {
      id: connection.id,
      peer,
      kind: connectionKind(connection),
      isRelay: this.relayIds.has(peer),
      remoteAddr: connection.remoteAddr.toString(),
      direction: connection.direction,
      openedAt: connection.timeline.open,
      rttMs: connection.rtt
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.roomChat.stop()
    await this.sync.stop()
    await this.rooms.stop()
    await this.peer.stop()
  }
}
