import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { DIRECT_MAX_BYTES, directMessages } from '../src/webrtc-frames.ts'
import type { Stream } from '@libp2p/interface'

/** The parts of `@libp2p/webrtc`'s stream that `directMessages` uses, recording what reaches each. */
class FakeWebRTCStream {
  readonly channel = {
    readyState: 'open',
    bufferedAmount: 0,
    sent: [] as Uint8Array[],
    onmessage: null as ((event: { data: ArrayBuffer }) => void) | null,
    send(data: Uint8Array): void {
      this.sent.push(data.slice())
    }
  }

  writeStatus = 'writable'
  readStatus = 'readable'
  sendingData = false
  writableNeedsDrain = false
  maxBufferedAmount = 1024 * 1024
  writeBuffer = new Uint8ArrayList()
  readBuffer = new Uint8ArrayList()
  /** What went through the stream's own paths. */
  streamSent: Uint8Array[] = []
  onDataCalls: Uint8Array[] = []
  protobufs: Uint8Array[] = []
  aborted?: Error

  send(data: Uint8Array): boolean {
    this.streamSent.push(data.slice())
    return true
  }

  onData(data: Uint8ArrayList): void {
    this.onDataCalls.push(data.subarray())
  }

  processIncomingProtobuf(buffer: Uint8Array | Uint8ArrayList): void {
    this.protobufs.push(buffer.subarray())
  }

  abort(err: Error): void {
    this.aborted = err
  }

  /** Data channel messages arriving, as bytes. */
  arrive(...chunks: number[][]): void {
    for (const chunk of chunks) this.channel.onmessage?.({ data: new Uint8Array(chunk).buffer })
  }
}

const varint = (value: number): number[] => {
  const out: number[] = []
  for (; value >= 0x80; value = Math.floor(value / 0x80)) out.push((value % 0x80) | 0x80)
  return [...out, value]
}

/** A frame as `@libp2p/webrtc` writes one: a varint length, then `Message { bytes message = 2 }`. */
const dataFrame = (data: number[]): number[] => {
  const body = [0x12, ...varint(data.length), ...data]
  return [...varint(body.length), ...body]
}
/** A frame carrying only a flag (`Message { Flag flag = 1 }`): FIN is 0. */
const FIN_FRAME = [2, 0x08, 0x00]

const start = (fake = new FakeWebRTCStream()) => {
  const delivered: number[][] = []
  const direct = directMessages(fake as unknown as Stream, (data) => delivered.push([...data]))
  return { fake, delivered, direct }
}

describe('directMessages', () => {
  it('steps aside for a stream that is not a WebRTC stream of the known shape', () => {
    expect(directMessages({ send: () => true } as unknown as Stream, () => {})).toBeUndefined()
  })

  it('delivers the data of whole frames at once, however the data channel cuts them', () => {
    const { fake, delivered } = start()
    // one frame per message; two in one message; one cut in three, its length prefix on its own
    const second = dataFrame([4, 5])
    const third = dataFrame([6, 7, 8])
    fake.arrive(dataFrame([1, 2, 3]), [...second, ...third])
    const cut = dataFrame(new Array<number>(200).fill(9))
    fake.arrive(cut.slice(0, 1), cut.slice(1, 50), cut.slice(50))
    expect(delivered).toEqual([[1, 2, 3], [4, 5], [6, 7, 8], new Array<number>(200).fill(9)])
    expect(fake.onDataCalls).toEqual([])
    expect(fake.aborted).toBeUndefined()
  })

  it('hands a frame with a flag to the stream, in order with the data around it', () => {
    const { fake, delivered } = start()
    fake.arrive([...dataFrame([1]), ...FIN_FRAME])
    expect(delivered).toEqual([[1]])
    expect(fake.protobufs).toEqual([new Uint8Array([0x08, 0x00])])
  })

  it('goes through the stream while it is paused or holds unread data, so the order holds', () => {
    const { fake, delivered } = start()
    fake.readStatus = 'paused'
    fake.arrive(dataFrame([1]))
    fake.readStatus = 'readable'
    fake.readBuffer.append(new Uint8Array([1]))
    fake.arrive(dataFrame([2]))
    fake.readBuffer.consume(1)
    fake.arrive(dataFrame([3]))
    expect(fake.onDataCalls).toEqual([new Uint8Array([1]), new Uint8Array([2])])
    expect(delivered).toEqual([[3]])
  })

  it('aborts the stream on a frame length that does not decode or is too large, and delivers nothing', () => {
    const bad = start()
    bad.fake.arrive([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
    expect(bad.fake.aborted?.name).toBe('InvalidMessageError')
    const huge = start()
    // 2^23 bytes announced: more than any frame may be
    huge.fake.arrive([0x80, 0x80, 0x80, 0x04, 0x12])
    expect(huge.fake.aborted?.message).toMatch(/8388608 bytes/)
    expect([...bad.delivered, ...huge.delivered]).toEqual([])
  })

  it('writes a small message as one frame straight to the channel, readable by the stream at the other end', () => {
    const { fake, direct } = start()
    expect(direct?.send(new Uint8Array([7, 8, 9]))).toBe(true)
    expect(fake.channel.sent).toEqual([new Uint8Array(dataFrame([7, 8, 9]))])
    expect(fake.streamSent).toEqual([])
    // and the reader here reads what the writer wrote
    const reader = start()
    reader.fake.arrive([...(fake.channel.sent[0] ?? [])])
    expect(reader.delivered).toEqual([[7, 8, 9]])
  })

  it('sends through the stream when the message is large, the stream is busy or the channel is full', () => {
    const { fake, direct } = start()
    direct?.send(new Uint8Array(DIRECT_MAX_BYTES + 1))
    fake.writeBuffer.append(new Uint8Array(1))
    direct?.send(new Uint8Array(1))
    fake.writeBuffer.consume(1)
    fake.writableNeedsDrain = true
    direct?.send(new Uint8Array(2))
    fake.writableNeedsDrain = false
    fake.channel.bufferedAmount = fake.maxBufferedAmount
    direct?.send(new Uint8Array(3))
    fake.channel.bufferedAmount = 0
    fake.writeStatus = 'closing'
    direct?.send(new Uint8Array(4))
    expect(fake.streamSent.map((m) => m.byteLength)).toEqual([DIRECT_MAX_BYTES + 1, 1, 2, 3, 4])
    expect(fake.channel.sent).toEqual([])
  })
})
