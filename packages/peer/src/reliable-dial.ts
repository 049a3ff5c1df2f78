import { webRTC } from '@libp2p/webrtc'
import { DialFailedError } from './errors.ts'
import type { Connection, Logger, Transport } from '@libp2p/interface'
import type { WebRTCTransportComponents, WebRTCTransportInit } from '@libp2p/webrtc'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface ReliableDialInit {
  attempts: number
  attemptTimeoutMs: number
  log: Logger
}

type DialOptions = Parameters<Transport['dial']>[1]

/**
 * Wraps a transport so that a dial which loses the WebRTC signaling race is retried instead of failing.
 *
 * With plain js-libp2p, a fresh browser-to-browser dial through a relay sometimes never completes: the answering
 * side finishes signaling and closes the stream while the offering side still waits, so the attempt hangs until
 * the dial timeout (NOTES.md, js-libp2p#3406). Each attempt here gets its own short deadline; a lost one is
 * abandoned (its half-open RTCPeerConnection closed by the transport) and a new offer is made. The caller's own
 * signal still bounds the whole dial.
 */
export function withReliableDial(transport: Transport, init: ReliableDialInit): Transport {
  const dial = async (ma: Multiaddr, options: DialOptions): Promise<Connection> => {
    let lastError: unknown
    for (let attempt = 1; attempt <= init.attempts; attempt++) {
      options.signal?.throwIfAborted()
      const deadline = AbortSignal.timeout(init.attemptTimeoutMs)
      const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
      try {
        return await transport.dial(ma, { ...options, signal })
      } catch (err: unknown) {
        lastError = err
        if (options.signal?.aborted === true) throw err
        init.log('dial attempt %d/%d to %a failed - %e', attempt, init.attempts, ma, err)
      }
    }
    throw new DialFailedError(`could not dial ${ma.toString()} after ${init.attempts} attempts`, init.attempts, {
      cause: lastError
    })
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
    withReliableDial(factory(components), { ...dial, log: components.logger.forComponent('kith:peer:dial') })
}
