import { RESERVATION_CONCURRENCY } from './constants.ts'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { reliableWebRTC } from './reliable-dial.ts'
import { DATA_CHANNEL } from './transports.browser.ts'
import type { TransportOptions, TransportSetup } from './transports.browser.ts'

export type { TransportOptions, TransportSetup } from './transports.browser.ts'

/** Node: TCP and WebSockets listeners, WebRTC via node-datachannel, and reachability through relays. */
export function createTransports(options: TransportOptions): TransportSetup {
  return {
    runtime: 'node',
    transports: [
      tcp(),
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
    listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws', '/webrtc']
  }
}
