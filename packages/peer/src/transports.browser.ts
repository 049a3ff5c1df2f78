import { RESERVATION_CONCURRENCY } from './constants.ts'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { webSockets } from '@libp2p/websockets'
import { reliableWebRTC } from './reliable-dial.ts'
import type { Libp2pOptions } from 'libp2p'

/**
 * Bigger data-channel messages and send buffer than js-libp2p's defaults (16 KiB, 2 MiB): fewer messages per
 * megabyte and no stall while the buffer drains to zero. 64 KiB is the largest message every WebRTC stack accepts
 * without negotiation (RFC 8841), and js-libp2p receivers take any size.
 */
export const DATA_CHANNEL = { maxMessageSize: 64 * 1024, maxBufferedAmount: 8 * 1024 * 1024 }

export interface TransportOptions {
  iceServers: RTCIceServer[]
  listen?: string[]
  reserveTimeoutMs: number
  dial: { attempts: number; attemptMinTimeoutMs: number; attemptMaxTimeoutMs: number }
}

export interface TransportSetup {
  runtime: 'browser' | 'node'
  transports: NonNullable<Libp2pOptions['transports']>
  listen: string[]
}

/**
 * Browsers cannot listen on sockets: they are reachable through a relay reservation (`/p2p-circuit`, made by the
 * relay manager for every configured relay, used only for signaling) and `/webrtc`, the direct connection
 * negotiated over it.
 */
export function createTransports(options: TransportOptions): TransportSetup {
  return {
    runtime: 'browser',
    transports: [
      webSockets(),
      reliableWebRTC(
        { rtcConfiguration: { iceServers: options.iceServers }, dataChannel: DATA_CHANNEL },
        options.dial
      ),
      circuitRelayTransport({
        reservationCompletionTimeout: options.reserveTimeoutMs,
        reservationConcurrency: RESERVATION_CONCURRENCY
      })
    ],
    listen: options.listen ?? ['/webrtc']
  }
}
