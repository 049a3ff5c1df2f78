// The room protocol's streams, kept open between exchanges. Each exchange used to open a stream, and on WebRTC a
// stream is a data channel opened, negotiated (multistream-select) and closed: in an idle room of 8 browsers the
// periodic room syncs were 7 of the 9 data channels a page opened every 10 s. A device now keeps the stream it opened
// to a peer and runs its next exchanges on it; the peer ends the stream after a minute without one.
import { lpStream } from '@libp2p/utils'
import { RoomError } from './errors.ts'
import type { PeerId, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

/** A responder ends a room-protocol stream that carried no exchange for this long. */
export const ROOM_SESSION_IDLE_MS = 60_000

/** One exchange's messages, each read and write bounded by the exchange's deadline. */
export interface RoomChannel {
  read(): Promise<Uint8Array>
  write(bytes: Uint8Array): Promise<void>
}

interface Session {
  stream: Stream
  lp: LengthPrefixedStream<Stream>
}

const channelOf = (lp: LengthPrefixedStream<Stream>, signal: AbortSignal): RoomChannel => ({
  read: async () => (await lp.read({ signal })).subarray(),
  write: async (bytes) => {
    await lp.write(bytes, { signal })
  }
})

const usable = (stream: Stream): boolean =>
  stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable'

/** The room-protocol streams this device opened, one per peer, reused by its next exchanges with that peer. */
export class RoomSessions {
  private readonly sessions = new Map<string, Session>()
  /** The last exchange queued per peer: exchanges on one stream run one at a time. */
  private readonly queues = new Map<string, Promise<void>>()

  constructor(
    private readonly open: (peer: PeerId, signal: AbortSignal) => Promise<Stream>,
    private readonly maxMessageBytes: number
  ) {}

  /**
   * Runs `exchange` on the stream kept for `peer`, or on a new one. An exchange that fails on a kept stream (the peer
   * ended it meanwhile, or an older peer answers one exchange per stream) runs once more on a new stream; a refusal
   * (`RoomError`) does not.
   */
  async run<T>(
    peer: PeerId,
    signal: AbortSignal,
    exchange: (channel: RoomChannel) => Promise<T>
  ): Promise<T> {
    const key = peer.toString()
    const previous = this.queues.get(key) ?? Promise.resolve()
    let release = (): void => undefined
    const turn = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous.then(async () => turn)
    this.queues.set(key, tail)
    await previous
    try {
      const kept = this.sessions.get(key)
      if (kept != null && usable(kept.stream)) {
        try {
          return await exchange(channelOf(kept.lp, signal))
        } catch (err: unknown) {
          this.drop(key, kept, err as Error)
          if (err instanceof RoomError || signal.aborted) throw err
        }
      } else if (kept != null) {
        this.drop(key, kept)
      }
      const stream = await this.open(peer, signal)
      const session: Session = { stream, lp: lpStream(stream, { maxDataLength: this.maxMessageBytes }) }
      this.sessions.set(key, session)
      stream.addEventListener('close', () => {
        if (this.sessions.get(key) === session) this.sessions.delete(key)
      })
      try {
        return await exchange(channelOf(session.lp, signal))
      } catch (err: unknown) {
        this.drop(key, session, err as Error)
        throw err
      }
    } finally {
      release()
      if (this.queues.get(key) === tail) this.queues.delete(key)
    }
  }

  /** Ends every kept stream (the rooms are stopping). */
  closeAll(): void {
    for (const [key, session] of [...this.sessions]) this.drop(key, session)
  }

  private drop(key: string, session: Session, err?: Error): void {
    if (this.sessions.get(key) === session) this.sessions.delete(key)
    if (session.stream.status !== 'open') return
    if (err != null) {
      session.stream.abort(err)
      return
    }
    session.stream.close({ signal: AbortSignal.timeout(1_000) }).catch((closeErr: unknown) => {
      session.stream.abort(closeErr as Error)
    })
  }
}

export interface ServeRoomSessionOptions {
  maxMessageBytes: number
  /** Each exchange's deadline. */
  exchangeTimeoutMs: number
  /** @default ROOM_SESSION_IDLE_MS */
  idleMs?: number
}

/**
 * Answers the exchanges a peer runs on `stream`, one after another, until it closes its side, breaks an exchange, or
 * sends nothing for `idleMs`. `exchange` gets each exchange's first message and a channel bounded by
 * `exchangeTimeoutMs`; it returns false to end the stream after a refusal.
 */
export async function serveRoomSession(
  stream: Stream,
  exchange: (first: Uint8Array, channel: RoomChannel) => Promise<boolean>,
  options: ServeRoomSessionOptions
): Promise<void> {
  const { maxMessageBytes, exchangeTimeoutMs, idleMs = ROOM_SESSION_IDLE_MS } = options
  const lp = lpStream(stream, { maxDataLength: maxMessageBytes })
  for (;;) {
    const idle = AbortSignal.timeout(idleMs)
    let first: Uint8Array
    try {
      first = (await lp.read({ signal: idle })).subarray()
    } catch (err: unknown) {
      // the peer finished (an older peer closes after one exchange) or went quiet: the stream ends here
      if (idle.aborted || stream.remoteWriteStatus !== 'writable') {
        await stream.close({ signal: AbortSignal.timeout(1_000) }).catch((closeErr: unknown) => {
          stream.abort(closeErr as Error)
        })
        return
      }
      throw err
    }
    const more = await exchange(first, channelOf(lp, AbortSignal.timeout(exchangeTimeoutMs)))
    if (!more) {
      await stream.close({ signal: AbortSignal.timeout(1_000) })
      return
    }
  }
}
