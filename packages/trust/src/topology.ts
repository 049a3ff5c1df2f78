/**
 * Who is connected to whom in a room. Each member device signs, now and then, the list of peers it holds direct
 * connections to (`room-neighbours`), and members pass these attestations along with the log. From them this
 * module draws the room's graph and flags what does not fit:
 * - `outsider`: a member device reports a neighbour that is not a member (a member relaying to someone outside);
 * - `one-sided`: a member reports a member neighbour that does not report it back;
 * - `silent`: a member device that has not attested lately.
 *
 * What it cannot catch: a member that copies what it reads out of band (screenshots, another app, another
 * connection it does not report), or that lies in its own attestations. Attestations make naive relaying visible
 * to everyone; they prove nothing about an insider who decides to leak.
 */
import { read, signAs, verify, verifyAsync } from '@kith/identity'
import { peerIdFromString } from '@libp2p/peer-id'
import { b64 } from './entries.ts'
import { EntryError } from './errors.ts'
import type { RoomState } from './reducer.ts'
import type { Identity, Verified } from '@kith/identity'
import type { PeerId } from '@libp2p/interface'

export const NEIGHBOURS_TYPE = 'room-neighbours'
export const MAX_NEIGHBOURS = 256
const MAX_ATTESTATION_BYTES = MAX_NEIGHBOURS * 64 + 4096

export interface Attestation {
  room: string
  deviceId: PeerId
  /** The attesting user (base64url root key). */
  user: string
  /** Peer ids (strings) the device holds direct connections to. */
  peers: string[]
  at: number
  bytes: Uint8Array
}

/** Signs the list of `peers` the device is directly connected to, for `room`. */
export function attestNeighbours(
  identity: Identity,
  room: string,
  peers: PeerId[],
  at = Date.now()
): Uint8Array {
  return signAs(identity, NEIGHBOURS_TYPE, { room, peers: neighbourList(peers) }, at)
}

/** The peer ids an attestation lists: distinct, sorted, at most `MAX_NEIGHBOURS`. */
function neighbourList(peers: PeerId[]): string[] {
  return [...new Set(peers.map((p) => p.toString()))].sort().slice(0, MAX_NEIGHBOURS)
}

/**
 * This device's own attestation, as `attestNeighbours` signs it, without checking the signature it just made (in
 * a browser that check cost a millisecond or more every interval).
 */
export function ownAttestation(
  identity: Identity,
  room: string,
  peers: PeerId[],
  at = Date.now()
): Attestation {
  const bytes = attestNeighbours(identity, room, peers, at)
  return {
    room,
    deviceId: identity.deviceId,
    user: b64(identity.user),
    peers: neighbourList(peers),
    at,
    bytes
  }
}

/** Reads and verifies an attestation for `room`. Throws `EntryError`. */
export function readAttestation(bytes: Uint8Array, room: string): Attestation {
  try {
    return attestationOf(
      verify<unknown>(bytes, { type: NEIGHBOURS_TYPE, maxBytes: MAX_ATTESTATION_BYTES }),
      bytes,
      room
    )
  } catch (err: unknown) {
    throw attestationError(err)
  }
}

/**
 * `readAttestation` with the signature checked by the platform's WebCrypto where it can (identity's `verifyAsync`):
 * a room checks every member's attestation every interval, and in a browser that was the largest part of an idle
 * page's JavaScript. Rejects with `EntryError`.
 */
export async function readAttestationAsync(bytes: Uint8Array, room: string): Promise<Attestation> {
  try {
    const verified = await verifyAsync<unknown>(bytes, {
      type: NEIGHBOURS_TYPE,
      maxBytes: MAX_ATTESTATION_BYTES
    })
    return attestationOf(verified, bytes, room)
  } catch (err: unknown) {
    throw attestationError(err)
  }
}

function attestationOf(verified: Verified, bytes: Uint8Array, room: string): Attestation {
  const body = read.map(verified.body, 'neighbours')
  read.keys(body, ['room', 'peers'], 'neighbours')
  if (read.string(body, 'room', 43) !== room) throw new EntryError('the attestation is for another room')
  const peers = read.strings(body, 'peers', MAX_NEIGHBOURS, 128)
  for (const peer of peers) peerIdFromString(peer)
  return { room, deviceId: verified.deviceId, user: b64(verified.user), peers, at: verified.at, bytes }
}

function attestationError(err: unknown): EntryError {
  if (err instanceof EntryError) return err
  return new EntryError(`invalid neighbours attestation: ${(err as Error).message}`, { cause: err })
}

export interface TopologyNode {
  deviceId: string
  /** The member's name and root key (base64url); absent for outsiders. */
  name?: string
  user?: string
  member: boolean
  /** When it last attested, if ever. */
  attestedAt?: number
}

export interface TopologyEdge {
  from: string
  to: string
  /** Both ends report the connection. */
  mutual: boolean
}

export type TopologyFlag =
  | { kind: 'outsider'; device: string; reportedBy: string }
  | { kind: 'one-sided'; from: string; to: string }
  | { kind: 'silent'; device: string }

export interface Topology {
  nodes: TopologyNode[]
  edges: TopologyEdge[]
  flags: TopologyFlag[]
}

export interface TopologyOptions {
  /** @default Date.now() */
  now?: number
  /** A member device with no attestation this recent is silent. @default 60_000 */
  silentAfterMs?: number
}

/** The room's graph from the members' latest attestations (others' are ignored). */
export function roomTopology(
  state: RoomState,
  attestations: Iterable<Attestation>,
  options: TopologyOptions = {}
): Topology {
  const now = options.now ?? Date.now()
  const silentAfter = options.silentAfterMs ?? 60_000
  const nodes = new Map<string, TopologyNode>()
  for (const member of state.members) {
    for (const device of member.devices) {
      nodes.set(device.deviceId.toString(), {
        deviceId: device.deviceId.toString(),
        name: member.name,
        user: member.userKey,
        member: true
      })
    }
  }
  const latest = new Map<string, Attestation>()
  for (const a of attestations) {
    const id = a.deviceId.toString()
    const node = nodes.get(id)
    if (node?.user !== a.user) continue
    if ((latest.get(id)?.at ?? -1) < a.at) latest.set(id, a)
  }
  const reported = new Set<string>()
  const flags: TopologyFlag[] = []
  for (const [id, a] of latest) {
    ;(nodes.get(id) as TopologyNode).attestedAt = a.at
    for (const peer of a.peers) {
      reported.add(`${id}>${peer}`)
      if (!nodes.has(peer)) {
        nodes.set(peer, { deviceId: peer, member: false })
      }
      if (nodes.get(peer)?.member !== true) flags.push({ kind: 'outsider', device: peer, reportedBy: id })
    }
  }
  const edges: TopologyEdge[] = []
  const seen = new Set<string>()
  for (const key of reported) {
    const [from, to] = key.split('>') as [string, string]
    const pair = [from, to].sort().join('|')
    if (seen.has(pair)) continue
    seen.add(pair)
    const mutual = reported.has(`${to}>${from}`)
    edges.push({ from, to, mutual })
    if (!mutual && nodes.get(to)?.member === true && latest.has(to))
      flags.push({ kind: 'one-sided', from, to })
  }
  for (const node of nodes.values()) {
    if (node.member && (node.attestedAt == null || now - node.attestedAt > silentAfter)) {
      flags.push({ kind: 'silent', device: node.deviceId })
    }
  }
  return { nodes: [...nodes.values()], edges, flags }
}
