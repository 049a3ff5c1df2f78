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
