// Shared-state measurements the runner calls in each page: a Kith room (`@kith/sync`) or a y-webrtc room, one
// Y.Doc each, probed the same way. Every page stamps edits and arrivals with `performance.timeOrigin + now()`, a
// clock shared by all pages of the machine, so the runner can take "A set it" to "the last peer holds it".
import { Sync } from '@kith/sync'
import { WebrtcProvider } from 'y-webrtc'
import * as Y from 'yjs'
import type { Identity } from '@kith/identity'
import type { KithPeer } from '@kith/peer'
import type { Room, Rooms } from '@kith/trust'
import type { Connection, PeerId } from '@libp2p/interface'

/** What main.ts started in this page: the peer, its identity and its rooms. */
export interface KithParts {
  peer: KithPeer
  identity: Identity
  rooms: Rooms
}

const DOC = 'bench'
const EDITS = 'edits'
const TEXT = 'text'
const now = (): number => performance.timeOrigin + performance.now()

interface Probe {
  doc: Y.Doc
  edits: Y.Map<number>
  /** When each key first arrived here. */
  arrivals: Map<string, number>
}

let probe: Probe | undefined
let sync: Sync | undefined
/**
 * Direct connections this page opened and closed since its Kith peer started (churn shows a mesh under strain), and how
 * many of them were to the device's mesh neighbours in the probed room at that moment (the others are expected:
 * invite exchanges, and their pruning once idle).
 */
const churn = { opened: 0, closed: 0, neighbourOpened: 0, neighbourClosed: 0 }
/** Why those direct connections closed: the error's name (or "closed"), who closed it, whether a neighbour. */
const closeReasons: Record<string, number> = {}
/** The Kith room being probed. */
let probedRoom: Room | undefined
/** Invite exchanges this page answered that failed (BENCH: why a newcomer could not join). */
const inviteErrors: string[] = []
/** BENCH_CONNECTIONS: the latest connection opens and closes, with who opened them and why they closed. */
const connectionLog: string[] = []
/** BENCH_STREAMS: the streams seen since the tally started, by connection and stream id. */
let tally: { timer: ReturnType<typeof setInterval>; seen: Map<string, string> } | undefined
/** The functions of a stack trace below its top frame, without their locations (readable with BENCH_MINIFY=0). */
function callers(stack: string | undefined): string {
  return (stack ?? '')
    .split('\n')
    .slice(2, 6)
    .map((line) =>
      line
        .trim()
        .replace(/^at /, '')
        .replace(/ \(.*\)$/, '')
        .replace(/^https?:\S+$/, '?')
    )
    .join(' < ')
}

function logConnection(line: string): void {
  connectionLog.push(`${Math.round(performance.now())} ${line}`)
  if (connectionLog.length > 300) connectionLog.shift()
}
let provider: WebrtcProvider | undefined

function watch(doc: Y.Doc): Probe {
  const edits = doc.getMap<number>(EDITS)
  const arrivals = new Map<string, number>()
  edits.observe((event) => {
    const at = now()
    for (const key of event.keysChanged as Set<string>) if (!arrivals.has(key)) arrivals.set(key, at)
  })
  // BENCH_TRACE splits an edit's path at its transactions: where the author's ends and the receiver's begins
  const stamps = (window as unknown as { stamps?: Record<string, number[]> }).stamps
  if (stamps != null) {
    const record = (list: number[]): void => {
      if (list.length < 20_000) list.push(now())
    }
    const begun = (stamps.transactionsBegun ??= [])
    const ended = (stamps.transactionsEnded ??= [])
    doc.on('beforeTransaction', () => record(begun))
    doc.on('afterTransaction', () => record(ended))
  }
  probe = { doc, edits, arrivals }
  return probe
}

function needProbe(): Probe {
  if (probe == null) throw new TypeError('no document is being probed in this page')
  return probe
}

/** Sets `key` in the shared map; resolves with the time it was set. */
function edit(key: string): number {
  const at = now()
  needProbe().edits.set(key, at)
  return at
}

/** When each of `keys` arrived here (missing keys are left out). */
function arrivals(keys: string[]): Record<string, number> {
  const { arrivals: seen } = needProbe()
  const out: Record<string, number> = {}
  for (const key of keys) {
    const at = seen.get(key)
    if (at != null) out[key] = at
  }
  return out
}

/** Resolves with true once `key` is here, or false after `ms`. */
async function waitKey(key: string, ms: number): Promise<boolean> {
  const { edits } = needProbe()
  if (edits.has(key)) return true
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      edits.unobserve(check)
      resolve(false)
    }, ms)
    const check = (): void => {
      if (!edits.has(key)) return
      clearTimeout(timer)
      edits.unobserve(check)
      resolve(true)
    }
    edits.observe(check)
  })
}

/** Fills the probed document's text with `bytes` of ASCII, in one transaction. */
function fill(bytes: number): void {
  const line = 'The quick brown fox jumps over the lazy dog, again and again. 0123456789\n'
  const text = line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes)
  needProbe().doc.getText(TEXT).insert(0, text)
}

/** Resolves with the time at which the probed document's text reached `length`, or rejects after `ms`. */
async function waitText(length: number, ms: number): Promise<number> {
  const text = needProbe().doc.getText(TEXT)
  if (text.length >= length) return now()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      text.unobserve(check)
      reject(new RangeError(`the text had ${text.length} of ${length} characters after ${ms} ms`))
    }, ms)
    const check = (): void => {
      if (text.length < length) return
      clearTimeout(timer)
      text.unobserve(check)
      resolve(now())
    }
    text.observe(check)
  })
}

/** Kith: the benchmark's sync service on this page's peer. */
export function kithSync(parts: () => KithParts) {
  const needRoom = (id: string): Room => {
    const room = parts().rooms.get(id)
    if (room == null) throw new TypeError(`no room ${id} here`)
    return room
  }
  const needSync = (): Sync => {
    if (sync == null) throw new TypeError('sync not started')
    return sync
  }
  return {
    async kithStart(): Promise<void> {
      const { peer, rooms, identity } = parts()
      rooms.addEventListener('invite:error', (event) => {
        const { peer: remote, error } = event.detail
        inviteErrors.push(`${remote.toString().slice(-6)}: ${error.code} ${error.message}`)
        if (inviteErrors.length > 20) inviteErrors.shift()
      })
      const neighbour = (remote: PeerId): boolean =>
        probedRoom != null && rooms.meshNeighboursOf(probedRoom).some((id) => id.equals(remote))
      const describe = (c: Connection): string =>
        `${c.remotePeer.toString().slice(-6)} ${c.direction}${c.limits != null ? ' limited' : ''}${neighbour(c.remotePeer) ? ' neighbour' : ''}`
      peer.addEventListener('connection:open', (event) => {
        const connection = event.detail
        logConnection(`open ${describe(connection)}`)
        // relayed circuits only carry WebRTC signalling and are closed once the direct connection is up
        if (connection.limits != null) return
        churn.opened++
        if (neighbour(connection.remotePeer)) churn.neighbourOpened++
        // which code closed it: a graceful close that took over libp2p's 1 s ends as a TimeoutError, whoever began it
        let closer = ''
        const close = connection.close.bind(connection)
        connection.close = async (options) => {
          closer ||= ` (close() from ${callers(new Error().stack)})`
          return close(options)
        }
        connection.addEventListener('close', (closed) => {
          const by = closed.local === false ? ' by the peer' : ''
          logConnection(
            `closed ${connection.remotePeer.toString().slice(-6)}: ${closed.error?.message ?? 'closed'}${by}${closer}`
          )
          const key = `${closed.error?.name ?? 'closed'}${by}${neighbour(connection.remotePeer) ? ', a neighbour' : ''}`
          closeReasons[key] = (closeReasons[key] ?? 0) + 1
        })
      })
      peer.addEventListener('connection:close', (event) => {
        logConnection(`close ${describe(event.detail)} after ${Date.now() - event.detail.timeline.open} ms`)
        if (event.detail.limits != null) return
        churn.closed++
        if (neighbour(event.detail.remotePeer)) churn.neighbourClosed++
      })
      sync = new Sync({ peer, rooms, identity, appId: 'bench' })
      await sync.start()
    },
    /** A new room with this page as founder; its document is probed. */
    async kithCreate(): Promise<string> {
      const room = await parts().rooms.create('sync bench')
      probedRoom = room
      watch(await needSync().doc(room, DOC))
      return room.id
    },
    /** The invite exchanges this page answered that failed, newest last (at most 20): `<peer>: <code> <message>`. */
    kithInviteErrors(): string[] {
      return [...inviteErrors]
    },
    kithInvite(id: string): { link: string; pin: string } {
      const created = parts().rooms.invite(needRoom(id), { base: 'https://bench.example/' })
      return { link: created.link, pin: created.pin }
    },
    /** Joins by invite; resolves with the times of the invite exchange's start and end (then the doc is probed). */
    async kithJoin(link: string, pin: string): Promise<{ room: string; started: number; member: number }> {
      const started = now()
      const room = await parts().rooms.join(link, pin)
      const member = now()
      probedRoom = room
      watch(await needSync().doc(room, DOC))
      return { room: room.id, started, member }
    },
    /**
     * BENCH_STREAMS: samples every connection's streams every 20 ms until called again, then returns how many
     * distinct streams each (connection kind, protocol) had: which protocols keep a page busy.
     */
    kithStreamTally(): Record<string, number> | undefined {
      if (tally != null) {
        clearInterval(tally.timer)
        const counts: Record<string, number> = {}
        for (const key of tally.seen.values()) counts[key] = (counts[key] ?? 0) + 1
        tally = undefined
        return counts
      }
      const seen = new Map<string, string>()
      const timer = setInterval(() => {
        for (const c of parts().peer.getConnections()) {
          const kind =
            c.limits != null ? 'relayed' : c.remoteAddr.toString().includes('/webrtc') ? 'webrtc' : 'relay ws'
          for (const st of c.streams)
            seen.set(`${c.id}/${st.id}`, `${kind} ${st.protocol ?? '?'} ${st.direction}`)
        }
      }, 20)
      tally = { timer, seen }
      return undefined
    },
    /** BENCH_CONNECTIONS: the latest connection opens and closes (`logConnection`). */
    kithConnectionLog(): string[] {
      return connectionLog
    },
    /** BENCH_CONNECTIONS: this page's connections, with their streams' protocols and directions. */
    kithConnections(): Array<{
      remote: string
      addr: string
      limited: boolean
      age: number
      streams: string[]
    }> {
      return parts()
        .peer.getConnections()
        .map((c) => ({
          remote: c.remotePeer.toString().slice(-6),
          addr: c.remoteAddr.toString().replace(/\/p2p\/[^/]+/g, '/p2p/…'),
          limited: c.limits != null,
          age: Date.now() - c.timeline.open,
          streams: c.streams.map((s) => `${s.protocol ?? '?'} ${s.direction}`)
        }))
    },
    /** Sync links this page holds in `id`, and how many members the room has. */
    kithLinks(id: string): {
      links: number
      members: number
      connections: number
      opened: number
      closed: number
      neighbourOpened: number
      neighbourClosed: number
      reasons: Record<string, number>
    } {
      const room = needRoom(id)
      return {
        links: needSync().status(room).peers.length,
        members: room.otherDevices().length + 1,
        connections: parts()
          .peer.getConnections()
          .filter((c) => c.limits == null).length,
        ...churn,
        reasons: { ...closeReasons }
      }
    }
  }
}

/** y-webrtc: one provider per page, as its README sets it up, with no ICE servers (loopback only). */
export const yWebrtc = {
  ywJoin(signaling: string, room: string): void {
    provider?.destroy()
    const doc = new Y.Doc()
    watch(doc)
    provider = new WebrtcProvider(room, doc, {
      signaling: [signaling],
      // y-webrtc's default caps a peer at 20–34 connections, below which it does not forward: a room larger than
      // that would lose edits rather than slow down, so the cap is lifted to measure the full mesh it builds
      maxConns: 512,
      filterBcConns: true,
      peerOpts: { config: { iceServers: [] } }
    })
  },
  /** Connected y-webrtc peers (open WebRTC links; y-webrtc marks only the first sync per room as `synced`). */
  ywLinks(): number {
    const conns = provider?.room?.webrtcConns
    if (conns == null) return 0
    return [...conns.values()].filter((c) => c.connected).length
  },
  ywLeave(): void {
    provider?.destroy()
    provider = undefined
  }
}

export const probeCalls = { edit, arrivals, waitKey, fill, waitText }
