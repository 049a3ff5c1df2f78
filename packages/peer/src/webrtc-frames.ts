import { InvalidMessageError } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Connection, Libp2p, Logger, Stream } from '@libp2p/interface'

interface FramedStream {
  _sendMessage: (this: FramedStream, data: Uint8ArrayList) => void
  channel?: { send: unknown }
}

const PATCHED = Symbol.for('@kith/peer/coalesced-webrtc-frames')

/**
 * Frames up to this size are joined into one message. Above it, the second message is a small share of the cost
 * while joining would copy the whole body once more.
 */
const COALESCE_MAX_BYTES = 16 * 1024

/**
 * Makes `@libp2p/webrtc` send each length-prefixed frame as ONE data-channel message.
 *
 * Its stream writes a frame as a list of two chunks (the varint length, then the protobuf body) and sends every
 * chunk as its own RTCDataChannel message, so each libp2p message costs two SCTP messages, two `send()` calls and
 * two `message` events on the other side — the largest cost in the benchmark's echo profile. Receivers decode a
 * byte stream, so a single message is read the same way by any js-libp2p peer. The stream class is not exported,
 * so the patch reaches its prototype through a live stream; it changes nothing but how the chunks are handed to
 * `send()`, and it steps aside if the internal shape is not the one it knows.
 */
export function coalesceWebRTCFrames(stream: Stream, log: Logger): boolean {
  const proto = Object.getPrototypeOf(stream) as FramedStream & { [PATCHED]?: true }
  if (proto[PATCHED] === true) return true
  const original = Object.prototype.hasOwnProperty.call(proto, '_sendMessage')
    ? proto._sendMessage
    : undefined
  if (
    typeof original !== 'function' ||
    original.length !== 1 ||
    (stream as unknown as FramedStream).channel == null
  ) {
    log('webrtc stream internals changed; frames are sent as libp2p sends them')
    return false
  }
  proto._sendMessage = function (this: FramedStream, data: Uint8ArrayList): void {
    original.call(this, data.byteLength <= COALESCE_MAX_BYTES ? new Uint8ArrayList(data.subarray()) : data)
  }
  proto[PATCHED] = true
  log('webrtc frames are sent as one data-channel message each')
  return true
}

/** Applies {@link coalesceWebRTCFrames} through the first WebRTC connection's first stream. */
export function coalesceOnFirstWebRTCConnection(
  node: Pick<Libp2p, 'addEventListener' | 'removeEventListener'>,
  log: Logger
): void {
  let done = false
  const attempt = (connection: Connection): void => {
    const stream = connection.streams[0]
    if (done || stream == null) return
    done = true
    node.removeEventListener('connection:open', onOpen)
    coalesceWebRTCFrames(stream, log)
  }
  const onOpen = (evt: CustomEvent<Connection>): void => {
    const connection = evt.detail
    if (!connection.remoteAddr.getComponents().some((c) => c.name === 'webrtc')) return
    attempt(connection)
    // the first stream (identify) may be opened by a listener that runs after this one
    if (!done) setTimeout(() => attempt(connection), 0)
  }
  node.addEventListener('connection:open', onOpen)
}

/** Messages up to this size take the direct path; larger ones are cut up by the stream as usual. */
export const DIRECT_MAX_BYTES = COALESCE_MAX_BYTES
/** The largest frame the direct reader takes from the data channel: as `it-length-prefixed`'s default. */
const DIRECT_MAX_FRAME_BYTES = 4 * 1024 * 1024
/** The protobuf key of `Message.message` (field 2, length-delimited) in `@libp2p/webrtc`'s frames. */
const MESSAGE_FIELD = 0x12

/** The parts of `@libp2p/webrtc`'s stream the direct path reads and calls (its class is not exported). */
interface WebRTCStreamInternals {
  channel: RTCDataChannel
  writeStatus: string
  readStatus: string
  sendingData: boolean
  writableNeedsDrain: boolean
  maxBufferedAmount: number
  writeBuffer: Uint8ArrayList
  readBuffer: Uint8ArrayList
  onData: (data: Uint8ArrayList) => void
  processIncomingProtobuf: (buffer: Uint8Array | Uint8ArrayList) => void
  send: (data: Uint8Array | Uint8ArrayList) => boolean
  abort: (err: Error) => void
}

/** A stream's messages in both directions past `@libp2p/webrtc`'s stream layers: see {@link directMessages}. */
export interface DirectMessages {
  /** Sends `data` as the stream's `send` would, straight to the data channel when it can; returns as `send`. */
  send: (data: Uint8Array) => boolean
}

/**
 * Takes one WebRTC stream's messages past the layers of `@libp2p/webrtc`'s stream, for a protocol whose every
 * message is on its hot path (`@kith/sync`'s edits). Frames stay exactly as that stream writes and reads them (a
 * varint length, then the protobuf `Message`), so the peer at the other end reads and writes them as usual.
 *
 * - Sending: a message of at most `DIRECT_MAX_BYTES` goes straight to the data channel while nothing waits in the
 *   stream's own write buffer and the channel's buffer is under half of its limit; otherwise (and always when the
 *   stream is not writable) it goes through the stream's `send`, which keeps the order and the back-pressure.
 * - Receiving: the data channel's frames are parsed here; the data of a frame that only carries data goes to
 *   `deliver` in the same turn it arrived, while the stream reads (not paused, nothing it buffered still unread);
 *   otherwise, and for every frame with a flag (close, reset), the stream handles it as it would have. `deliver`
 *   is then the stream's only reader: its `message` events carry only what arrives while it is paused.
 *
 * In the benchmark's profile these layers (a pushable and an async generator per frame, then an event on each
 * side, and four copies of a small message) were most of the time an edit spent in libp2p. What the stream read
 * before this is called still reaches its `message` listeners first: a frame arriving while the stream holds unread
 * data goes through the stream too, so the order holds. (A peer that splits one frame across data channel messages,
 * which js-libp2p peers other than Kith's may do, could have one half read by the stream and the other here: the
 * stream is then aborted, as for any malformed frame.) Undefined when `stream` is not a `@libp2p/webrtc` stream of
 * the shape this knows: use the stream.
 */
export function directMessages(
  stream: Stream,
  deliver: (data: Uint8Array) => void
): DirectMessages | undefined {
  const s = stream as unknown as WebRTCStreamInternals
  const channel = s.channel as RTCDataChannel | undefined
  if (
    channel == null ||
    typeof channel.send !== 'function' ||
    typeof s.processIncomingProtobuf !== 'function' ||
    typeof s.onData !== 'function' ||
    typeof s.maxBufferedAmount !== 'number' ||
    !(s.writeBuffer instanceof Uint8ArrayList) ||
    !(s.readBuffer instanceof Uint8ArrayList)
  ) {
    return undefined
  }
  const pending = new Uint8ArrayList()
  const frame = (buffer: Uint8Array): void => {
    // a frame that only carries data: the field key, the data's length, the data
    if (buffer[0] === MESSAGE_FIELD) {
      const length = readVarint(buffer, 1)
      if (length != null && length.next + length.value === buffer.byteLength) {
        const data = buffer.subarray(length.next)
        if (s.readStatus === 'readable' && s.readBuffer.byteLength === 0) deliver(data)
        else s.onData(new Uint8ArrayList(data))
        return
      }
    }
    s.processIncomingProtobuf(buffer)
  }
  channel.onmessage = (event: MessageEvent<ArrayBuffer>): void => {
    const data = event.data as ArrayBuffer | null
    if (data == null || data.byteLength === 0) return
    const chunk = new Uint8Array(data)
    // the usual case, one whole frame per data channel message, is read without joining buffers
    if (pending.byteLength === 0) {
      const length = readVarint(chunk, 0)
      if (length != null && length.next + length.value === chunk.byteLength && length.value > 0) {
        frame(chunk.subarray(length.next))
        return
      }
    }
    pending.append(chunk)
    while (pending.byteLength > 0) {
      const head = pending.subarray(0, Math.min(pending.byteLength, MAX_VARINT_BYTES))
      const length = readVarint(head, 0)
      if (length == null) {
        if (head.byteLength < MAX_VARINT_BYTES) return
        pending.consume(pending.byteLength)
        s.abort(new InvalidMessageError('a data channel frame length that does not decode'))
        return
      }
      if (length.value > DIRECT_MAX_FRAME_BYTES) {
        pending.consume(pending.byteLength)
        s.abort(new InvalidMessageError(`a data channel frame of ${length.value} bytes`))
        return
      }
      if (pending.byteLength < length.next + length.value) return
      const buffer = pending.subarray(length.next, length.next + length.value)
      pending.consume(length.next + length.value)
      frame(buffer)
    }
  }
  return {
    send(data: Uint8Array): boolean {
      if (
        data.byteLength > DIRECT_MAX_BYTES ||
        s.writeStatus !== 'writable' ||
        s.sendingData ||
        s.writableNeedsDrain ||
        s.writeBuffer.byteLength > 0 ||
        channel.readyState !== 'open' ||
        channel.bufferedAmount + data.byteLength > s.maxBufferedAmount / 2
      ) {
        return s.send(data)
      }
      const body = 1 + varintLength(data.byteLength) + data.byteLength
      const out = new Uint8Array(varintLength(body) + body)
      let at = writeVarint(out, 0, body)
      out[at++] = MESSAGE_FIELD
      at = writeVarint(out, at, data.byteLength)
      out.set(data, at)
      try {
        channel.send(out)
      } catch (err: unknown) {
        // as the stream does: a channel that throws on send is done
        s.abort(err as Error)
        throw err
      }
      return true
    }
  }
}

/** Frame lengths here stay below 2^28, which an unsigned varint writes in at most four bytes (five read). */
const MAX_VARINT_BYTES = 5

/** An unsigned varint at `at`: its value and where the bytes after it begin; undefined if cut short. */
function readVarint(bytes: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const byte = bytes[at + i]
    if (byte == null) return undefined
    value += (byte & 0x7f) * 2 ** (7 * i)
    if (byte < 0x80) return { value, next: at + i + 1 }
  }
  return undefined
}

function varintLength(value: number): number {
  let length = 1
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) length++
  return length
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  let v = value
  for (; v >= 0x80; v = Math.floor(v / 0x80)) out[at++] = (v % 0x80) | 0x80
  out[at++] = v
  return at
}
