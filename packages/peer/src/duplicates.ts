import { ConnectionKind, connectionKind } from './connections.ts'
import { DialSupersededError, DuplicateConnectionError } from './errors.ts'
import type { Superseded } from './reliable-dial.ts'
import type { Connection, Libp2p, Libp2pEvents, Logger, PeerId, TypedEventTarget } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** How long a duplicate gets to close its streams before it is aborted. */
const DUPLICATE_CLOSE_TIMEOUT_MS = 2_000

type Candidate = Pick<Connection, 'direction' | 'status' | 'limits' | 'remoteAddr'> & {
  timeline: Pick<Connection['timeline'], 'open'>
}

/**
 * Of `connections` to one remote peer, the direct WebRTC ones that are redundant, by a rule both ends reach on
 * their own: keep the connection dialed by the lower of the two peer ids (string order), and of several dialed by
 * the same end the newest.
 *
 * Duplicates come two ways. Two peers that dial each other at the same moment (a small room's members all dial one
 * another) each end up with an outbound and an inbound connection. And a dial abandoned by `withReliableDial`
 * leaves the answerer a connection the offerer no longer holds, until liveness pings time it out; the offerer's
 * retry is the answerer's newer inbound connection from the same peer. Each WebRTC connection costs an
 * `RTCPeerConnection` out of a browser's budget and pings every few seconds.
 */
export function redundantConnections<C extends Candidate>(me: string, remote: string, connections: C[]): C[] {
  // connectionKind is WebRTC only for a connection without relay limits
  const direct = connections.filter((c) => c.status === 'open' && connectionKind(c) === ConnectionKind.WebRTC)
  if (direct.length < 2) return []
  const lowerDialed = (c: C): boolean => (c.direction === 'outbound') === me < remote
  const preferred = direct.some(lowerDialed) ? direct.filter(lowerDialed) : direct
  const keep = preferred.reduce((newest, c) => (c.timeline.open > newest.timeline.open ? c : newest))
  return direct.filter((c) => c !== keep)
}

/**
 * Closes redundant direct WebRTC connections (see {@link redundantConnections}) as soon as a second one to the
 * same peer opens. Streams on a closed duplicate end; protocols that keep a long-lived stream reopen it on the
 * connection that stays.
 */
export function closeDuplicateConnections(node: Libp2p, log: Logger): void {
  const me = node.peerId.toString()
  node.addEventListener('connection:open', (event) => {
    const remote = event.detail.remotePeer
    for (const duplicate of redundantConnections(me, remote.toString(), node.getConnections(remote))) {
      log('closing duplicate %s connection %s to %p', duplicate.direction, duplicate.id, remote)
      duplicate.close({ signal: AbortSignal.timeout(DUPLICATE_CLOSE_TIMEOUT_MS) }).catch((err: unknown) => {
        duplicate.abort(new DuplicateConnectionError(undefined, { cause: err }))
      })
    }
  })
}

/** The peer a dial address ends in (`…/p2p/<peer>`), if any. */
function dialedPeer(ma: Multiaddr): string | undefined {
  return ma
    .getComponents()
    .filter((c) => c.name === 'p2p')
    .pop()?.value
}

/**
 * A signal that aborts once a direct WebRTC connection from the peer `ma` names is open and the rule of
 * {@link redundantConnections} keeps it over this device's dial (the peer's id is the lower): both ends dialed at
 * once, the peer's dial won, and this one would be closed as a duplicate however often it was retried.
 */
export function dialSuperseded(
  components: {
    peerId: PeerId
    connectionManager: { getConnections(): Connection[] }
    events: TypedEventTarget<Libp2pEvents>
  },
  ma: Multiaddr
): Superseded {
  const controller = new AbortController()
  const remote = dialedPeer(ma)
  const me = components.peerId.toString()
  if (remote == null || !(remote < me)) return { signal: controller.signal, dispose: () => undefined }
  const wins = (c: Connection): boolean =>
    c.remotePeer.toString() === remote &&
    c.direction === 'inbound' &&
    c.status === 'open' &&
    connectionKind(c) === ConnectionKind.WebRTC
  const listener = (event: CustomEvent<Connection>): void => {
    if (wins(event.detail)) controller.abort(new DialSupersededError())
  }
  if (components.connectionManager.getConnections().some(wins)) controller.abort(new DialSupersededError())
  components.events.addEventListener('connection:open', listener)
  return {
    signal: controller.signal,
    dispose: () => components.events.removeEventListener('connection:open', listener)
  }
}
