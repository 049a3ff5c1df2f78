// Length-prefixed messages on a libp2p stream, read from its 'message' events and written with `send`. The sync
// hot path is one small message per edit, so the layers of a general reader (a promise per byte of the length
// prefix, then one for the body) are replaced by one parse per arriving chunk.
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { directMessages } from '@kith/peer'
import { SyncError } from './errors.ts'
import type { DirectMessages } from '@kith/peer'
import type { Stream } from '@libp2p/interface'

/** The longest varint a frame length below 2^28 takes. */
const MAX_LENGTH_BYTES = 4

/**
 * Messages in both directions on `stream`, each prefixed with its length as an unsigned varint. Reading pauses the
 * stream once `maxUnreadBytes` of whole messages wait unread, so a peer that sends faster than this side handles
 * cannot make it buffer without bound.
 */
export class FramedStream {
  private readonly buffer = new Uint8ArrayList()
  private readonly ready: Uint8Array[] = []
  private readyBytes = 0
  private waiting?: () => void
  private ended = false
  private error?: Error
  /** The stream's data channel, written and read past libp2p's stream layers where it is a WebRTC one. */
  private readonly direct?: DirectMessages

  constructor(
    readonly stream: Stream,
    private readonly maxFrameBytes: number,
    private readonly maxUnreadBytes = 4 * maxFrameBytes
  ) {
    stream.addEventListener('message', (event) => {
      this.take(event.data)
    })
    this.direct = directMessages(stream, (data) => {
      this.take(data)
    })
    const end = (): void => {
      this.ended = true
      this.wake()
    }
    stream.addEventListener('remoteCloseWrite', end)
    stream.addEventListener('close', (event) => {
      if (event.error != null) this.error ??= event.error
      end()
    })
  }

  /** Sends one message; false when the stream's buffer is full (wait for `drained()` before sending more). */
  send(message: Uint8Array): boolean {
    if (this.direct == null)
      return this.stream.send(new Uint8ArrayList(varint.encode(message.byteLength), message))
    const framed = new Uint8Array(varint.encodingLength(message.byteLength) + message.byteLength)
    varint.encode(message.byteLength, framed)
    framed.set(message, framed.byteLength - message.byteLength)
    return this.direct.send(framed)
  }

  /** Resolves once the stream can take more, or rejects if it closes first. */
  async drained(): Promise<void> {
    if (this.stream.writableNeedsDrain !== true) return
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.stream.removeEventListener('drain', done)
        this.stream.removeEventListener('close', closed)
        resolve()
      }
      const closed = (): void => {
        this.stream.removeEventListener('drain', done)
        reject(new SyncError('TIMEOUT', 'the stream closed while its buffer was full'))
      }
      this.stream.addEventListener('drain', done)
      this.stream.addEventListener('close', closed)
    })
  }

  /** The next whole message, or null once the remote has finished. Throws if a message breaks the limit. */
  async next(): Promise<Uint8Array | null> {
    while (true) {
      const message = this.ready.shift()
      if (message != null) {
        this.readyBytes -= message.byteLength
        if (this.readyBytes <= this.maxUnreadBytes / 2 && this.stream.readStatus === 'paused') {
          this.stream.resume()
        }
        return message
      }
      if (this.error != null) throw this.error
      if (this.ended) return null
      await new Promise<void>((resolve) => {
        this.waiting = resolve
      })
    }
  }

  private take(data: Uint8Array | Uint8ArrayList): void {
    this.buffer.append(data)
    this.parse()
  }

  private parse(): void {
    while (this.buffer.byteLength > 0) {
      let length: number
      try {
        length = varint.decode(this.buffer)
      } catch (err: unknown) {
        // a prefix cut between two chunks: wait for the rest, unless it is already too long to be one
        if (this.buffer.byteLength < MAX_LENGTH_BYTES) return
        this.fail(new SyncError('MALFORMED', 'a message length that does not decode', { cause: err }))
        return
      }
      if (length > this.maxFrameBytes) {
        this.fail(new SyncError('TOO_LARGE', `a message of ${length} bytes; at most ${this.maxFrameBytes}`))
        return
      }
      const prefix = varint.encodingLength(length)
      if (this.buffer.byteLength < prefix + length) return
      const message = this.buffer.subarray(prefix, prefix + length)
      this.buffer.consume(prefix + length)
      this.ready.push(message)
      this.readyBytes += length
    }
    if (this.readyBytes > this.maxUnreadBytes && this.stream.readStatus === 'readable') this.stream.pause()
    this.wake()
  }

  private fail(error: Error): void {
    this.error = error
    this.buffer.consume(this.buffer.byteLength)
    this.stream.abort(error)
    this.wake()
  }

  private wake(): void {
    const waiting = this.waiting
    this.waiting = undefined
    waiting?.()
  }
}
