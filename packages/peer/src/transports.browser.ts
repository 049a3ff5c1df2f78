import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { webSockets } from '@libp2p/websockets'
import { reliableWebRTC } from './reliable-dial.ts'
import type { Libp2pOptions } from 'libp2p'

export interface TransportOptions {
  iceServers: RTCIceServer[]
  listen?: string[]
  reserveTimeoutMs: number
  dial: { attempts: number, attemptTimeoutMs: number }
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
      reliableWebRTC({ rtcConfiguration: { iceServers: options.iceServers } }, options.dial),
      circuitRelayTransport({ reservationCompletionTimeout: options.reserveTimeoutMs })
    ],
    listen: options.listen ?? ['/webrtc']
  }
}
