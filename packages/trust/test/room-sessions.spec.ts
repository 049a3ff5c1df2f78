import { peerIdFromString } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import { describe, expect, it, vi } from 'vitest'
import { RoomError } from '../src/errors.ts'
import { RoomSessions, serveRoomSession } from '../src/room-sessions.ts'
import type { RoomChannel } from '../src/room-sessions.ts'
import type { Stream } from '@libp2p/interface'

const PEER = peerIdFromString('12D3KooWPiyRYbjeGmbbMW78AadZ5as6N2hk6iDNnZVicF7M9Qq6')
const MAX_BYTES = 1024
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (b: Uint8Array): string => new TextDecoder().decode(b)

/**
 * A requester's sessions against a responder that answers `hello` with `echo:<it>`, reads one closing message,
 * and (`oneShot`) ends the stream after each exchange as peers before sessions did.
 */
function harness(options: { oneShot?: boolean; idleMs?: number; refuse?: (first: string) => boolean } = {}) {
  const opened: Stream[] = []
  const served: string[] = []
  const ended: Array<Promise<void>> = []
  const sessions = new RoomSessions(async () => {
    const [outbound, inbound] = await streamPair({ delay: 0 })
    opened.push(outbound)
    ended.push(
      serveRoomSession(
        inbound,
        async (first, channel) => {
          served.push(str(first))
          if (options.refuse?.(str(first)) === true) {
            await channel.write(text('refused'))
            return false
          }
          await channel.write(text(`echo:${str(first)}`))
          served.push(str(await channel.read()))
          return options.oneShot !== true
        },
        {
          maxMessageBytes: MAX_BYTES,
          exchangeTimeoutMs: 5_000,
          ...(options.idleMs != null ? { idleMs: options.idleMs } : {})
        }
      ).catch((err: unknown) => {
        inbound.abort(err as Error)
        throw err
      })
    )
    return outbound
  }, MAX_BYTES)
  const exchange = async (channel: RoomChannel, message: string): Promise<string> => {
    await channel.write(text(message))
    const reply = str(await channel.read())
    if (reply === 'refused') throw new RoomError('NOT_MEMBER', 'the peer refused')
    await channel.write(text(`done:${message}`))
    return reply
  }
  const run = async (message: string): Promise<string> =>
    sessions.run(PEER, AbortSignal.timeout(5_000), async (channel) => exchange(channel, message))
  return { sessions, opened, served, ended, run }
}

describe('room sessions', () => {
  it('should run a peer’s exchanges one after another on the one stream it keeps open', async () => {
    const h = harness()
    expect(await h.run('a')).toBe('echo:a')
    expect(await h.run('b')).toBe('echo:b')
    expect(await h.run('c')).toBe('echo:c')
    expect(h.opened).toHaveLength(1)
    // (the last closing message is still on its way when the requester is done)
    await vi.waitFor(() => expect(h.served).toEqual(['a', 'done:a', 'b', 'done:b', 'c', 'done:c']))
    h.sessions.closeAll()
    await h.ended[0]
  })

  it('should keep exchanges with one peer apart when they are started at once', async () => {
    const h = harness()
    const replies = await Promise.all(['x', 'y', 'z'].map(async (m) => h.run(m)))
    expect(replies).toEqual(['echo:x', 'echo:y', 'echo:z'])
    await vi.waitFor(() => expect(h.served).toEqual(['x', 'done:x', 'y', 'done:y', 'z', 'done:z']))
    expect(h.opened).toHaveLength(1)
  })

  it('should open a new stream for each exchange with a peer that ends the stream after one', async () => {
    const h = harness({ oneShot: true })
    for (const m of ['a', 'b', 'c']) {
      expect(await h.run(m)).toBe(`echo:${m}`)
      await h.ended.at(-1)
    }
    expect(h.opened).toHaveLength(3)
  })

  it('should end a stream that carried no exchange for the idle time, and open another for the next', async () => {
    const h = harness({ idleMs: 100 })
    expect(await h.run('a')).toBe('echo:a')
    await h.ended[0]
    expect(await h.run('b')).toBe('echo:b')
    expect(h.opened).toHaveLength(2)
  })

  it('should not run a refused exchange again, and end the stream the refusal came on', async () => {
    const h = harness({ refuse: (m) => m === 'secret' })
    expect(await h.run('a')).toBe('echo:a')
    await expect(h.run('secret')).rejects.toMatchObject({ name: 'RoomError', code: 'NOT_MEMBER' })
    expect(h.opened).toHaveLength(1)
    await h.ended[0]
    expect(await h.run('b')).toBe('echo:b')
    expect(h.opened).toHaveLength(2)
  })

  it('should abort a session whose peer sends a message over the limit, and serve nothing of it', async () => {
    const [outbound, inbound] = await streamPair({ delay: 0 })
    const served: string[] = []
    const serving = serveRoomSession(
      inbound,
      async (first) => {
        served.push(str(first))
        return Promise.resolve(true)
      },
      { maxMessageBytes: MAX_BYTES, exchangeTimeoutMs: 5_000 }
    )
    outbound.send(new Uint8Array([0x80, 0x10, ...new Uint8Array(16)]))
    await expect(serving).rejects.toMatchObject({ name: 'InvalidDataLengthError' })
    expect(served).toEqual([])
  })
})
