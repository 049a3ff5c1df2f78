import { TypedEventEmitter } from 'main-event'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { SyncError } from '../src/errors.ts'
import { FramedStream } from '../src/framed.ts'
import type { Stream } from '@libp2p/interface'

/** Just enough of a libp2p stream: 'message' events in, `send` out, pause/resume and abort recorded. */
class FakeStream extends TypedEventEmitter<Record<string, CustomEvent | Event>> {
  sent: Uint8Array[] = []
  readStatus = 'readable'
  aborted?: Error
  writableNeedsDrain = false
  send(data: Uint8ArrayList): boolean {
    this.sent.push(data.subarray())
    return true
  }
  pause(): void {
    this.readStatus = 'paused'
  }
  resume(): void {
    this.readStatus = 'readable'
  }
  abort(err: Error): void {
    this.aborted = err
  }
  deliver(bytes: Uint8Array): void {
    const event = new Event('message') as Event & { data: Uint8Array }
    event.data = bytes
    this.dispatchEvent(event)
  }
}

const framed = (fake: FakeStream, max = 1024, unread?: number): FramedStream =>
  new FramedStream(fake as unknown as Stream, max, unread)

describe('FramedStream', () => {
  it('reads messages however the bytes are cut, and writes them length-prefixed', async () => {
    const fake = new FakeStream()
    const writer = framed(new FakeStream())
    const a = new Uint8Array(300).fill(1)
    const b = new Uint8Array([7, 8, 9])
    writer.send(a)
    writer.send(b)
    const wire = new Uint8ArrayList(...(writer.stream as unknown as FakeStream).sent).subarray()
    const reader = framed(fake)
    // one byte at a time: the two-byte length prefix of the first message is split too
    for (const byte of wire) fake.deliver(new Uint8Array([byte]))
    expect(await reader.next()).toEqual(a)
    expect(await reader.next()).toEqual(b)
  })

  it('refuses a message longer than the limit and aborts the stream', async () => {
    const fake = new FakeStream()
    const reader = framed(fake, 16)
    fake.deliver(new Uint8Array([17, ...new Uint8Array(17)]))
    await expect(reader.next()).rejects.toMatchObject({ code: 'TOO_LARGE' })
    expect(fake.aborted).toBeInstanceOf(SyncError)
  })

  it('pauses the stream while too much waits unread, and resumes once it is read', async () => {
    const fake = new FakeStream()
    const reader = framed(fake, 100, 200)
    for (let i = 0; i < 3; i++) fake.deliver(new Uint8Array([100, ...new Uint8Array(100).fill(i)]))
    expect(fake.readStatus).toBe('paused')
    expect((await reader.next())?.[0]).toBe(0)
    expect((await reader.next())?.[0]).toBe(1)
    expect(fake.readStatus).toBe('readable')
  })

  it('ends with null when the remote closes its side', async () => {
    const fake = new FakeStream()
    const reader = framed(fake)
    const next = reader.next()
    fake.dispatchEvent(new Event('remoteCloseWrite'))
    expect(await next).toBeNull()
  })
})
