import { defaultLogger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { DialFailedError, DialSupersededError } from '../src/index.ts'
import { withReliableDial } from '../src/reliable-dial.ts'
import type { Connection, Transport } from '@libp2p/interface'

const ADDR = multiaddr('/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWJSS3L3hLhhwNLUiwensY2CPiPgXTqgQGMvaxkYcrhsaF')
const log = defaultLogger().forComponent('test')

type Behaviour = 'stall' | 'fail' | 'ok' | 'slow'

/** A transport whose n-th dial does what `script[n]` says; a stalled dial ends only when its signal aborts. */
function scriptedTransport(script: Behaviour[]): { transport: Transport; dials: AbortSignal[] } {
  const dials: AbortSignal[] = []
  const transport = {
    dial: async (_ma: unknown, options: { signal: AbortSignal; onProgress?: (event: unknown) => void }) => {
      dials.push(options.signal)
      const behaviour = script[dials.length - 1] ?? 'fail'
      if (behaviour === 'ok') return { id: `conn-${dials.length}` } as unknown as Connection
      if (behaviour === 'slow') {
        // a negotiation that takes 400 ms but reports a step every 60 ms
        for (let step = 0; step < 7; step++) {
          await new Promise((resolve) => setTimeout(resolve, 60))
          options.signal.throwIfAborted()
          options.onProgress?.({ type: `step-${step}` })
        }
        return { id: `conn-${dials.length}` } as unknown as Connection
      }
      if (behaviour === 'fail') throw new TypeError(`attempt ${dials.length} refused`)
      return new Promise<never>((_, reject) => {
        options.signal.addEventListener('abort', () => reject(options.signal.reason as Error), { once: true })
      })
    },
    listenFilter: () => [],
    marker: 'inner'
  }
  return { transport: transport as unknown as Transport, dials }
}

const options = (signal?: AbortSignal): Parameters<Transport['dial']>[1] =>
  ({ signal, upgrader: {} }) as unknown as Parameters<Transport['dial']>[1]

describe('withReliableDial', () => {
  it('should abandon a stalled attempt after the minimum deadline and succeed on the next', async () => {
    const { transport, dials } = scriptedTransport(['stall', 'ok'])
    const reliable = withReliableDial(transport, {
      attempts: 4,
      attemptMinTimeoutMs: 100,
      attemptMaxTimeoutMs: 1_000,
      log
    })
    const started = Date.now()
    const connection = await reliable.dial(ADDR, options())
    expect(connection.id).toBe('conn-2')
    expect(dials).toHaveLength(2)
    expect(dials[0]?.aborted).toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(90)
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('should double the deadline on every retry, up to the maximum', async () => {
    const { transport } = scriptedTransport(['stall', 'stall', 'stall', 'ok'])
    const reliable = withReliableDial(transport, {
      attempts: 4,
      attemptMinTimeoutMs: 50,
      attemptMaxTimeoutMs: 120,
      log
    })
    const started = Date.now()
    await reliable.dial(ADDR, options())
    // 50 + 100 + 120 (capped), not 50 × 3
    expect(Date.now() - started).toBeGreaterThanOrEqual(260)
  })

  it('should fail with DialFailedError carrying the attempt count and the last error', async () => {
    const { transport, dials } = scriptedTransport(['fail', 'fail', 'fail'])
    const reliable = withReliableDial(transport, {
      attempts: 3,
      attemptMinTimeoutMs: 50,
      attemptMaxTimeoutMs: 100,
      log
    })
    const err = await reliable.dial(ADDR, options()).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: DialFailedError.name, attempts: 3 })
    expect((err as Error).cause).toMatchObject({ message: 'attempt 3 refused' })
    expect(dials).toHaveLength(3)
  })

  it("should stop at once when the caller's own signal aborts", async () => {
    const { transport, dials } = scriptedTransport(['stall', 'stall', 'stall'])
    const reliable = withReliableDial(transport, {
      attempts: 3,
      attemptMinTimeoutMs: 5_000,
      attemptMaxTimeoutMs: 5_000,
      log
    })
    const controller = new AbortController()
    const pending = reliable.dial(ADDR, options(controller.signal))
    controller.abort(new TypeError('caller gave up'))
    await expect(pending).rejects.toThrow('caller gave up')
    expect(dials).toHaveLength(1)
  })

  it('should let a slow attempt that keeps making progress finish, and pass its progress on', async () => {
    const { transport, dials } = scriptedTransport(['slow'])
    const reliable = withReliableDial(transport, {
      attempts: 2,
      attemptMinTimeoutMs: 150,
      attemptMaxTimeoutMs: 150,
      log
    })
    const seen: unknown[] = []
    const connection = await reliable.dial(ADDR, {
      ...options(),
      onProgress: (event: unknown) => seen.push(event)
    })
    // 400 ms in all, more than the 150 ms deadline, but never 150 ms without a step
    expect(connection.id).toBe('conn-1')
    expect(dials).toHaveLength(1)
    expect(seen).toHaveLength(7)
  })

  it("should stop without a retry when the peer's own connection supersedes the dial", async () => {
    const { transport, dials } = scriptedTransport(['stall', 'ok'])
    const controller = new AbortController()
    let disposed = 0
    const reliable = withReliableDial(transport, {
      attempts: 3,
      attemptMinTimeoutMs: 5_000,
      attemptMaxTimeoutMs: 5_000,
      log,
      superseded: () => ({ signal: controller.signal, dispose: () => disposed++ })
    })
    const started = Date.now()
    const pending = reliable.dial(ADDR, options())
    setTimeout(() => controller.abort(), 50)
    await expect(pending).rejects.toMatchObject({ name: DialSupersededError.name })
    // the stalled attempt ended when the peer's connection opened, not at its 5 s deadline, and was not retried
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(dials).toHaveLength(1)
    expect(disposed).toBe(1)
  })

  it('should stop watching for a superseding connection once the dial succeeds', async () => {
    const { transport } = scriptedTransport(['ok'])
    let disposed = 0
    const reliable = withReliableDial(transport, {
      attempts: 1,
      attemptMinTimeoutMs: 100,
      attemptMaxTimeoutMs: 100,
      log,
      superseded: () => ({ signal: new AbortController().signal, dispose: () => disposed++ })
    })
    await reliable.dial(ADDR, options())
    expect(disposed).toBe(1)
  })

  it('should pass everything but dial through to the wrapped transport', () => {
    const { transport } = scriptedTransport([])
    const reliable = withReliableDial(transport, {
      attempts: 1,
      attemptMinTimeoutMs: 1,
      attemptMaxTimeoutMs: 1,
      log
    })
    expect((reliable as unknown as { marker: string }).marker).toBe('inner')
    expect(reliable.listenFilter([])).toEqual([])
  })
})
