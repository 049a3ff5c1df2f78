import type { Connection } from '@libp2p/interface'

export const ConnectionKind = {
  /** A direct WebRTC connection: the relay only carried its signaling. */
  WebRTC: 'webrtc',
  /** A limited circuit through a relay, meant for signaling only. */
  Relayed: 'relayed',
  WebSockets: 'websockets',
  TCP: 'tcp',
  Other: 'other'
} as const
export type ConnectionKind = (typeof ConnectionKind)[keyof typeof ConnectionKind]

/**
 * What kind of link a connection is. A direct WebRTC connection's remote address still names the relay that
 * signaled it (`…/p2p-circuit/webrtc/p2p/<peer>`), so the `webrtc` component and the absence of relay limits
 * decide, not the presence of `p2p-circuit`.
 */
export function connectionKind(connection: Pick<Connection, 'remoteAddr' | 'limits'>): ConnectionKind {
  const names = connection.remoteAddr.getComponents().map((c) => c.name)
  if (names.includes('webrtc') && connection.limits == null) return ConnectionKind.WebRTC
  if (names.includes('p2p-circuit')) return ConnectionKind.Relayed
  if (names.includes('ws') || names.includes('wss') || names.includes('tls')) return ConnectionKind.WebSockets
  if (names.includes('tcp')) return ConnectionKind.TCP
  return ConnectionKind.Other
}

/** True for a connection that does not pass through a relay. */
export function isDirect(connection: Pick<Connection, 'remoteAddr' | 'limits'>): boolean {
  return connectionKind(connection) !== ConnectionKind.Relayed
}
