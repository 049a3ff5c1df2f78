import { webRTC } from '@libp2p/webrtc'
import { dialSuperseded } from './duplicates.ts'
import { DialFailedError, DialSupersededError } from './errors.ts'
import type { Connection, Logger, Transport } from '@libp2p/interface'
import type { WebRTCTransportComponents, WebRTCTransportInit } from '@libp2p/webrtc'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface ReliableDialInit {
  attempts: number
  /** The shortest deadline an attempt gets. */
  attemptMinTimeoutMs: number
  /** The longest deadline an attempt gets. */
  attemptMaxTimeoutMs: number
  log: Logger
  /**
   * For each dial, a signal that aborts when a connection the two ends keep over this dial opens (the peer dialed
   * this device at the same moment and its dial wins): the dial then stops with `DialSupersededError` rather than
   * waiting out its attempt and retrying, since the peer would close every new attempt as a duplicate.
   */
  superseded?: (ma: Multiaddr) => Superseded
}

export interface Superseded {
  signal: AbortSignal
  /** Stops watching (the dial ended). */
  dispose(): void
}

type DialOptions = Parameters<Transport['dial']>[1]

/** An attempt slower than this many times the usual successful dial is presumed stalled. */
const STALL_FACTOR = 5
/** Weight of the newest successful dial in the running average. */
const AVERAGE_WEIGHT = 0.2

/**
 * A deadline of `ms` that starts again on every progress event, so a negotiation that is slow but moving (on a
 * saturated CPU every step takes longer) is not abandoned, while one that stops moving is, `ms` after its last step.
 */
function progressDeadline(ms: number): { signal: AbortSignal; progressed(): void; clear(): void } {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const arm = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      controller.abort(new DOMException(`no progress for ${ms} ms`, 'TimeoutError'))
    }, ms)
  }
  arm()
  return {
    signal: controller.signal,
    progressed: () => {
      if (!controller.signal.aborted) arm()
    },
    clear: () => {
      clearTimeout(timer)
    }
  }
}

/**
 * Wraps a transport so that a dial which stalls during WebRTC negotiation is abandoned and retried instead of
 * hanging until the dial timeout.
 *
 * With plain js-libp2p, about one fresh browser-to-browser dial in ten never completes: ICE and DTLS report
 * `connected` and the answering side has already upgraded the connection, but the offering side's `init` data
 * channel never fires `open`, so its dial waits out the whole timeout (NOTES.md, js-libp2p#3406). A retry with a
 * new offer succeeds. Each attempt's deadline is a multiple of the usual successful dial time, bounded by
 * `attemptMinTimeoutMs` and `attemptMaxTimeoutMs` and doubled on every retry, so a stall costs about a second on
 * a LAN while slow links still get the time they need. The deadline counts from the negotiation's last progress
 * event (offer sent, answer read, each ICE candidate, encryption, multiplexing), so a negotiation slowed by a
 * saturated CPU is not abandoned while it moves. The caller's own signal still bounds the whole dial.
 */
export function withReliableDial(transport: Transport, init: ReliableDialInit): Transport {
  let averageMs: number | undefined

  const deadlineFor = (attempt: number): number => {
    const usual = averageMs == null ? init.attemptMinTimeoutMs : averageMs * STALL_FACTOR
    const base = Math.min(init.attemptMaxTimeoutMs, Math.max(init.attemptMinTimeoutMs, usual))
    return Math.min(init.attemptMaxTimeoutMs, base * 2 ** (attempt - 1))
  }

  const dial = async (ma: Multiaddr, options: DialOptions): Promise<Connection> => {
    const superseded = init.superseded?.(ma)
    try {
      return await attempts(ma, options, superseded?.signal)
    } finally {
      superseded?.dispose()
    }
  }

  const attempts = async (
    ma: Multiaddr,
    options: DialOptions,
    superseded?: AbortSignal
  ): Promise<Connection> => {
    let lastError: unknown
    const isSuperseded = (): boolean => superseded?.aborted === true
    for (let attempt = 1; attempt <= init.attempts; attempt++) {
      options.signal?.throwIfAborted()
      if (isSuperseded()) throw new DialSupersededError(undefined, { cause: lastError })
      const timeoutMs = deadlineFor(attempt)
      const deadline = progressDeadline(timeoutMs)
      const signals = [options.signal, deadline.signal, superseded].filter((s): s is AbortSignal => s != null)
      const signal = AbortSignal.any(signals)
      const started = Date.now()
      try {
        const onProgress = (event: Parameters<NonNullable<DialOptions['onProgress']>>[0]): void => {
          deadline.progressed()
          options.onProgress?.(event)
        }
        const connection = await transport.dial(ma, { ...options, signal, onProgress }).finally(() => {
          deadline.clear()
        })
        const took = Date.now() - started
        averageMs = averageMs == null ? took : averageMs * (1 - AVERAGE_WEIGHT) + took * AVERAGE_WEIGHT
        return connection
      } catch (err: unknown) {
        lastError = err
        if (options.signal?.aborted === true) throw err
        if (isSuperseded()) {
          init.log("dial to %a superseded by the peer's own connection after %d ms", ma, Date.now() - started)
          throw new DialSupersededError(undefined, { cause: err })
        }
        init.log(
          'dial attempt %d/%d to %a failed after %d ms (deadline %d ms) - %e',
          attempt,
          init.attempts,
          ma,
          Date.now() - started,
          timeoutMs,
          err
        )
      }
    }
    throw new DialFailedError(
      `could not dial ${ma.toString()} after ${init.attempts} attempts`,
      init.attempts,
      {
        cause: lastError
      }
    )
  }

  return new Proxy(transport, {
    get(target, prop, receiver) {
      if (prop === 'dial') return dial
      const value: unknown = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  })
}

/** `webRTC()` whose dials are retried as described on {@link withReliableDial}. */
export function reliableWebRTC(
  init: WebRTCTransportInit,
  dial: Omit<ReliableDialInit, 'log'>
): (components: WebRTCTransportComponents) => Transport {
  const factory = webRTC(init)
  return (components) =>
    withReliableDial(factory(components), {
      ...dial,
      log: components.logger.forComponent('kith:peer:dial'),
      superseded: (ma) => dialSuperseded(components, ma)
    })
}
