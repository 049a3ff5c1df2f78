import { protocolId } from '@kith/peer'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { KithPeer } from '@kith/peer'
import type { Connection, Stream } from '@libp2p/interface'

/** One message per stream: the sender writes a length-prefixed JSON message, the receiver answers `ok`. */
export const CHAT_PROTOCOL = protocolId('demo', 'chat', '1.0.0')
export const MAX_CHAT_MESSAGE_BYTES = 4_096
export const MAX_CHAT_TEXT_LENGTH = 1_000
export const CHAT_TIMEOUT_MS = 10_000
const ACK = new TextEncoder().encode('ok')

export class ChatError extends Error {
  static override name = 'ChatError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ChatError'
  }
}

export type DeliveryState = 'sending' | 'delivered' | 'failed'

export interface ChatMessage {
  id: string
  peer: string
  direction: 'in' | 'out'
  text: string
  at: number
  state: DeliveryState
  /** The kind of connection it travelled over, once known. */
  via?: string
  error?: string
}

export interface WireMessage {
  id: string
  text: string
  at: number
}

/** Decodes one chat message from the wire; throws `ChatError` for anything but the expected shape. */
export function parseWire(bytes: Uint8Array): WireMessage {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err: unknown) {
    throw new ChatError('message is not UTF-8 JSON', { cause: err })
  }
  const msg = value as Partial<WireMessage>
  if (
    typeof msg?.id !== 'string' ||
    msg.id.length > 64 ||
    typeof msg.text !== 'string' ||
    msg.text.length === 0 ||
    msg.text.length > MAX_CHAT_TEXT_LENGTH ||
    typeof msg.at !== 'number'
  ) {
    throw new ChatError('message has the wrong shape')
  }
  return { id: msg.id, text: msg.text, at: msg.at }
}

export interface ChatEvents {
  message: (message: ChatMessage) => void
}

/** The demo's chat: any peer can message any other it can reach; nothing is stored beyond the page. */
export class Chat {
  readonly messages: ChatMessage[] = []
  private readonly listeners = new Set<() => void>()

  constructor(
    private readonly peer: KithPeer,
    private readonly describe: (connection: Connection) => string
  ) {}

  async start(): Promise<void> {
    await this.peer.handle(CHAT_PROTOCOL, (stream, connection) => this.receive(stream, connection), {
      maxInboundStreams: 16
    })
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private changed(): void {
    for (const listener of this.listeners) listener()
  }

  private async receive(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(CHAT_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_CHAT_MESSAGE_BYTES })
    try {
      const wire = parseWire((await lp.read({ signal })).subarray())
      await lp.write(ACK, { signal })
      await stream.close({ signal })
      this.messages.push({
        ...wire,
        peer: connection.remotePeer.toString(),
        direction: 'in',
        state: 'delivered',
        via: this.describe(connection)
      })
      this.changed()
    } catch (err: unknown) {
      stream.abort(err instanceof Error ? err : new ChatError(String(err)))
    }
  }

  /** Sends `text` to `peer`; the returned message turns `delivered` when the other side acknowledged it. */
  async send(peer: string, text: string): Promise<ChatMessage> {
    const message: ChatMessage = {
      id: crypto.randomUUID(),
      peer,
      direction: 'out',
      text,
      at: Date.now(),
      state: 'sending'
    }
    this.messages.push(message)
    this.changed()
    try {
      if (text.length === 0 || text.length > MAX_CHAT_TEXT_LENGTH) {
        throw new ChatError(`a message has 1 to ${MAX_CHAT_TEXT_LENGTH} characters`)
      }
      const signal = AbortSignal.timeout(CHAT_TIMEOUT_MS)
      const stream = await this.peer.dialProtocol(peerIdFromString(peer), CHAT_PROTOCOL, { signal })
      const connection = this.peer
        .getConnections(peerIdFromString(peer))
        .find((c) => c.streams.includes(stream))
      const lp = lpStream(stream, { maxDataLength: MAX_CHAT_MESSAGE_BYTES })
      await lp.write(new TextEncoder().encode(JSON.stringify({ id: message.id, text, at: message.at })), {
        signal
      })
      const ack = await lp.read({ signal })
      if (new TextDecoder().decode(ack.subarray()) !== 'ok') throw new ChatError('peer did not acknowledge')
      await stream.close({ signal })
      message.state = 'delivered'
      message.via = connection != null ? this.describe(connection) : undefined
    } catch (err: unknown) {
      message.state = 'failed'
      message.error = (err as Error).message
    }
    this.changed()
    return message
  }
}
