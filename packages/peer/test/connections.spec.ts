import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { ConnectionKind, connectionKind, isDirect } from '../src/index.ts'

const RELAY = '/ip4/127.0.0.1/tcp/4003/ws/p2p/12D3KooWJSS3L3hLhhwNLUiwensY2CPiPgXTqgQGMvaxkYcrhsaF'
const PEER = '12D3KooWPiyRYbjeGmbbMW78AadZ5as6N2hk6iDNnZVicF7M9Qq6'
const LIMITS = { bytes: 131_072n, seconds: 120 }

describe('connectionKind', () => {
  it('should call a WebRTC connection without relay limits direct, though its address names the relay', () => {
    const connection = { remoteAddr: multiaddr(`${RELAY}/p2p-circuit/webrtc/p2p/${PEER}`), limits: undefined }
    expect(connectionKind(connection)).toBe(ConnectionKind.WebRTC)
    expect(isDirect(connection)).toBe(true)
  })

  it('should call a circuit with limits relayed', () => {
    const connection = { remoteAddr: multiaddr(`${RELAY}/p2p-circuit/p2p/${PEER}`), limits: LIMITS }
    expect(connectionKind(connection)).toBe(ConnectionKind.Relayed)
    expect(isDirect(connection)).toBe(false)
  })

  it('should not trust a /webrtc address that still carries relay limits', () => {
    const connection = { remoteAddr: multiaddr(`${RELAY}/p2p-circuit/webrtc/p2p/${PEER}`), limits: LIMITS }
    expect(connectionKind(connection)).toBe(ConnectionKind.Relayed)
  })

  it('should tell WebSockets and TCP apart', () => {
    expect(connectionKind({ remoteAddr: multiaddr(RELAY), limits: undefined })).toBe(
      ConnectionKind.WebSockets
    )
    expect(
      connectionKind({ remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`), limits: undefined })
    ).toBe(ConnectionKind.TCP)
  })
})
