import { describe, expect, it } from 'vitest'
import { createKithPeer, InvalidParametersError } from '../src/index.ts'
import type { KithPeerInit } from '../src/index.ts'

const MEMBERS_ONLY = { denyInboundRelayReservation: () => true, denyOutboundRelayedConnection: () => true }

const invalid: [string, KithPeerInit][] = [
  ['an appId with capitals', { appId: 'Notes' }],
  ['relays that are not strings', { relays: [42 as unknown as string] }],
  ['a relay that is not a multiaddr', { relays: ['not a multiaddr'] }],
  ['a relay without a peer id', { relays: ['/ip4/127.0.0.1/tcp/4003/ws'] }],
  ['a negative liveness interval', { livenessIntervalMs: -1 }],
  ['a fractional dial attempt count', { dialAttempts: 1.5 }],
  ['zero max connections', { maxConnections: 0 }],
  [
    'an attempt minimum above its maximum',
    { dialAttemptMinTimeoutMs: 9_000, dialAttemptMaxTimeoutMs: 1_000 }
  ],
  ['a relay retry minimum above its maximum', { relayRetryMinMs: 60_000, relayRetryMaxMs: 1_000 }],
  ['iceServers that are not an array', { iceServers: 'stun:x' as unknown as RTCIceServer[] }],
  ['serveRelay without a gater (an open relay)', { serveRelay: true }],
  [
    'serveRelay with a gater that does not decide reservations',
    { serveRelay: true, connectionGater: { denyOutboundRelayedConnection: () => false } }
  ],
  ['serveRelay with zero reservations', { serveRelay: { maxReservations: 0 }, connectionGater: MEMBERS_ONLY }]
]

describe('createKithPeer', () => {
  it.each(invalid)('should refuse %s with InvalidParametersError', async (_, init) => {
    await expect(createKithPeer({ ...init, start: false })).rejects.toMatchObject({
      name: InvalidParametersError.name
    })
  })

  it('should start and stop with defaults, with no ICE servers configured', async () => {
    const peer = await createKithPeer({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      expect(peer.status).toBe('started')
      expect(peer.getMultiaddrs().some((ma) => ma.toString().startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
      expect(peer.services.relays.getRelays()).toEqual([])
      expect(peer.services.relayServer).toBeUndefined()
    } finally {
      await peer.stop()
    }
  })

  it('should serve as a relay when asked, with its gater deciding who may use it', async () => {
    const peer = await createKithPeer({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      serveRelay: true,
      connectionGater: MEMBERS_ONLY
    })
    try {
      expect(peer.services.relayServer?.reservations.size).toBe(0)
      expect(peer.getProtocols()).toContain('/libp2p/circuit/relay/0.2.0/hop')
    } finally {
      await peer.stop()
    }
  })
})
