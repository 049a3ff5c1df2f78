import { protocolId } from '@kith/peer'
import { sealedEpoch } from '@kith/trust'
import { lpStream } from '@libp2p/utils'
import type { KithPeer } from '@kith/peer'
import type { Room, Rooms } from '@kith/trust'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

/**
 * Room notes: each message sealed under the room's current epoch key and sent to every connected member device,
 * one stream each. A receiver checks the sender is a member device of that room before opening it; a removed
 * member can neither send (refused) nor read what is sealed after its removal (new epoch). A device that cannot be
 * reached gets the note when it next connects (or on a retry every few seconds), for up to ten minutes.
 */
export const ROOM_CHAT_PROTOCOL = protocolId('demo', 'room-chat', '1.0.0')
const MAX_MESSAGE_BYTES = 16 * 1024
const TIMEOUT_MS = 10_000
export const MAX_NOTE_LENGTH = 1_000

export interface RoomNote {
  id: string
  room: string
  /** The author's device and name, from the room's membership (never from the message). */
  from: string
  name: string
  text: string
  at: number
  mine: boolean
  /** For mine: how many member devices took it, of how many tried. */
  delivered?: number
  tried?: number
  epoch: number
}

/** A note a member device has not taken yet: retried when that device connects, and every few seconds. */
interface Undelivered {
  note: RoomNote
  aad: Uint8Array
  sealed: Uint8Array
  until: number
}

const RETRY_MS = 3_000
const GIVE_UP_MS = 10 * 60_000

export class RoomChat {
  private readonly notes = new Map<string, RoomNote[]>()
  private readonly outbox = new Map<string, Undelivered[]>()
  private readonly flushing = new Set<string>()
  private timer?: ReturnType<typeof setInterval>
  private readonly onConnect = (event: CustomEvent<PeerId>): void => {
    void this.flush(event.detail)
  }

  constructor(
    private readonly peer: KithPeer,
    private readonly rooms: Rooms,
    private readonly changed: () => void
  ) {}

  async start(): Promise<void> {
    await this.peer.handle(ROOM_CHAT_PROTOCOL, (stream, connection) => {
      this.receive(stream, connection).catch((err: unknown) => stream.abort(err as Error))
    })
    this.peer.addEventListener('peer:connect', this.onConnect)
    this.timer = setInterval(() => {
      for (const id of this.outbox.keys()) {
        const waiting = this.outbox.get(id)?.[0]
        if (waiting != null) void this.flush(this.deviceOf(waiting.note.room, id))
      }
    }, RETRY_MS)
  }

  stop(): void {
    clearInterval(this.timer)
    this.peer.removeEventListener('peer:connect', this.onConnect)
  }

  /** Notes sealed but not yet taken by some member device. */
  pending(room: string): number {
    let count = 0
    for (const list of this.outbox.values()) count += list.filter((u) => u.note.room === room).length
    return count
  }

  private deviceOf(room: string, id: string): PeerId | undefined {
    return this.rooms
      .get(room)
      ?.otherDevices()
      .find((device) => device.toString() === id)
  }

  /** Retries what `device` has not taken, oldest first; drops notes for rooms it left and notes past ten minutes. */
  private async flush(device: PeerId | undefined): Promise<void> {
    if (device == null) return
    const id = device.toString()
    if (this.flushing.has(id)) return
    this.flushing.add(id)
    try {
      const list = this.outbox.get(id) ?? []
      for (let next = list.at(0); next != null; next = list.at(0)) {
        if (Date.now() > next.until || this.deviceOf(next.note.room, id) == null) {
          list.shift()
          continue
        }
        if (!(await this.deliver(device, next.aad, next.sealed))) break
        list.shift()
        next.note.delivered = (next.note.delivered ?? 0) + 1
        this.changed()
      }
      if (list.length === 0) this.outbox.delete(id)
    } finally {
      this.flushing.delete(id)
    }
  }

  list(room: string): RoomNote[] {
    return this.notes.get(room) ?? []
  }

  private push(note: RoomNote): void {
    const list = this.notes.get(note.room) ?? []
    // a retried note whose first answer was lost arrives twice
    if (list.some((n) => n.id === note.id && n.from === note.from)) return
    list.push(note)
    this.notes.set(note.room, list.slice(-200))
    this.changed()
  }

  private async receive(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
    const bytes = (await lp.read({ signal })).subarray()
    const roomId = new TextDecoder().decode(bytes.subarray(0, 43))
    const room = this.rooms.get(roomId)
    const reply = async (text: string): Promise<void> => {
      await lp.write(new TextEncoder().encode(text), { signal })
      await stream.close()
    }
    if (room == null || room.me == null || !room.isMemberDevice(connection.remotePeer)) {
      return reply('not a member')
    }
    let note: { id: string; text: string; at: number }
    let epoch: number
    try {
      const sealed = bytes.subarray(43)
      epoch = sealedEpoch(sealed).n
      note = JSON.parse(
        new TextDecoder().decode(await room.open(sealed, bytes.subarray(0, 43)))
      ) as typeof note
    } catch {
      return reply('cannot open')
    }
    const member = room.state.members.find((m) =>
      m.devices.some((d) => d.deviceId.equals(connection.remotePeer))
    )
    this.push({
      id: String(note.id).slice(0, 40),
      room: room.id,
      from: connection.remotePeer.toString(),
      name: member?.name ?? 'unknown',
      text: String(note.text).slice(0, MAX_NOTE_LENGTH),
      at: Number(note.at),
      mine: false,
      epoch
    })
    await reply('ok')
  }

  /** Seals `text` for the room and sends it to every member device this peer can reach. */
  async send(room: Room, text: string): Promise<RoomNote> {
    const trimmed = text.trim().slice(0, MAX_NOTE_LENGTH)
    const id = crypto.randomUUID()
    const at = Date.now()
    const aad = new TextEncoder().encode(room.id)
    const sealed = await room.seal(new TextEncoder().encode(JSON.stringify({ id, text: trimmed, at })), aad)
    const targets = room.otherDevices()
    const note: RoomNote = {
      id,
      room: room.id,
      from: this.peer.peerId.toString(),
      name: room.me?.name ?? 'me',
      text: trimmed,
      at,
      mine: true,
      delivered: 0,
      tried: targets.length,
      epoch: room.state.epoch.n
    }
    this.push(note)
    const results = await Promise.all(targets.map(async (peer) => this.deliver(peer, aad, sealed)))
    note.delivered = results.filter(Boolean).length
    targets.forEach((peer, i) => {
      if (results[i]) return
      const id = peer.toString()
      this.outbox.set(id, [...(this.outbox.get(id) ?? []), { note, aad, sealed, until: at + GIVE_UP_MS }])
    })
    this.changed()
    return note
  }

  private async deliver(peer: PeerId, aad: Uint8Array, sealed: Uint8Array): Promise<boolean> {
    const signal = AbortSignal.timeout(TIMEOUT_MS)
    try {
      const stream = await this.peer.dialProtocol(peer, ROOM_CHAT_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
      await lp.write(new Uint8Array([...aad, ...sealed]), { signal })
      const answer = new TextDecoder().decode((await lp.read({ signal })).subarray())
      await stream.close()
      return answer === 'ok'
    } catch {
      return false
    }
  }
}
