// The shared-state part of `pnpm bench`: @kith/sync against y-webrtc (with its own signaling server), the same
// Y.Doc edits in both, every peer a page in its own browser context (its own storage, like separate people).
//   - edit latency: a room grows peer by peer; at each size peer 0 sets a map key every EDIT_INTERVAL_MS and the
//     edit's latency is until the last other peer holds it. The room grows until the median passes 1 s, edits are
//     lost, or the room does not form.
//   - messages and bytes per edit: counted at RTCDataChannel.send in every page while the edits run.
//   - join → synced: a newcomer joins a room whose document holds 100 KB, 1 MB or 10 MB of text.
//   - idle CPU: what every Chromium process together used while the formed room sat idle, per page.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ROOM_PROTOCOL } from '@kith/trust'
import { fixed, summarize, table } from './stats.ts'
import type { Summary } from './stats.ts'
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'

const EDITS = Number(process.env.BENCH_SYNC_EDITS ?? 50)
const EDIT_INTERVAL_MS = Number(process.env.BENCH_SYNC_INTERVAL_MS ?? 100)
const sizes = (name: string, fallback: string): number[] =>
  (process.env[name] ?? fallback)
    .split(',')
    .filter((size) => size.trim() !== '')
    .map(Number)
const KITH_SIZES = sizes('BENCH_KITH_SIZES', '2,8,16,24,32,48,64,72')
const YW_SIZES = sizes('BENCH_YW_SIZES', '2,8,16,24,32')
const JOIN_BYTES = sizes('BENCH_JOIN_BYTES', '100000,1000000,10000000')
const JOIN_ROUNDS = Number(process.env.BENCH_JOIN_ROUNDS ?? 3)
/** y-webrtc gets this long to sync a newcomer; it reports nothing when it fails. */
const YW_JOIN_LIMIT_MS = 15_000
const KITH_JOIN_LIMIT_MS = 30_000
const FORM_TIMEOUT_MS = 60_000
/** How long a failed join waits for the inviter to report its side of the exchange. */
const INVITE_ERROR_WAIT_MS = 30_000
const PAGE_LOAD_TIMEOUT_MS = 120_000
const LATENCY_LIMIT_MS = 1_000
/**
 * `BENCH_LIVENESS_MS`, `BENCH_LIVENESS_TIMEOUT_MS`: the Kith pages' liveness pings (default: @kith/peer's);
 * `BENCH_MESH_DEGREE`: their rooms' mesh degree; `BENCH_ATTEST_MS`: how often their rooms attest neighbours and
 * sync the room log with every connected member (defaults: @kith/trust's).
 */
const PAGE_OPTIONS = {
  ...(process.env.BENCH_LIVENESS_MS != null
    ? { livenessIntervalMs: Number(process.env.BENCH_LIVENESS_MS) }
    : {}),
  ...(process.env.BENCH_LIVENESS_TIMEOUT_MS != null
    ? { livenessTimeoutMs: Number(process.env.BENCH_LIVENESS_TIMEOUT_MS) }
    : {}),
  ...(process.env.BENCH_MESH_DEGREE != null ? { meshDegree: Number(process.env.BENCH_MESH_DEGREE) } : {}),
  ...(process.env.BENCH_ATTEST_MS != null ? { attestIntervalMs: Number(process.env.BENCH_ATTEST_MS) } : {})
}
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 5_000)
/** `BENCH_IDLE_MS`: how long a formed room sits idle while the browser's CPU use is sampled (0: not sampled). */
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 10_000)
/** Linux's clock ticks per second (`getconf CLK_TCK`), the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = 100
const SYNC_PROTOCOL = '/kith/bench/sync/2.0.0'
/**
 * `BENCH_PROFILE=<i>`: a CPU profile of peer i while the edits run (with `BENCH_PROFILE_IDLE=1`: while the formed
 * room sits idle instead), summarised by self time (with BENCH_MINIFY=0).
 */
const PROFILE = process.env.BENCH_PROFILE != null ? Number(process.env.BENCH_PROFILE) : undefined
const PROFILE_IDLE = process.env.BENCH_PROFILE_IDLE === '1'
/** `BENCH_PROFILE_GROW=1`: with `BENCH_PROFILE`, profile that peer while the room grows to each size instead. */
const PROFILE_GROW = process.env.BENCH_PROFILE_GROW === '1'
/** `BENCH_PROFILE_US=<µs>`: the profile's sampling interval (default 1000; an edit's path takes well under 1 ms). */
const PROFILE_INTERVAL_US = Number(process.env.BENCH_PROFILE_US ?? 1000)
/** `BENCH_CONNECTIONS=<i>`: peer i's connections and their open/close log, once each size has formed. */
const SHOW_CONNECTIONS =
  process.env.BENCH_CONNECTIONS != null ? Number(process.env.BENCH_CONNECTIONS) : undefined
/** `BENCH_STREAMS=<i>`: the streams peer i had while the room grew to each size, by connection kind and protocol. */
const TALLY_STREAMS = process.env.BENCH_STREAMS != null ? Number(process.env.BENCH_STREAMS) : undefined
/**
 * `BENCH_TRACE=1`: where an edit's time goes between the author and its first receiver (peer 1): the author's
 * transaction, its work until its first data channel send, the data channel, the receiver's work from the message's
 * arrival until its transaction begins, and that transaction (medians; other traffic in the same window can blur a
 * stage).
 */
const TRACE = process.env.BENCH_TRACE === '1'
/** `BENCH_KITH_FIRST=1`: grow Kith's room before y-webrtc's (by default y-webrtc goes first), to check for order. */
const KITH_FIRST = process.env.BENCH_KITH_FIRST === '1'

/** Direct connections opened and closed, and how many of them were to mesh neighbours in the probed room. */
export interface Churn {
  opened: number
  closed: number
  neighbourOpened: number
  neighbourClosed: number
  /** Closes by reason (the error's name, who closed, whether to a mesh neighbour). */
  reasons?: Record<string, number>
}

export interface WireCount {
  messages: number
  bytes: number
}

export interface SizeResult {
  peers: number
  formed: boolean
  /** Why the room did not form at this size. */
  error?: string
  /** From the first page of this size opening to every peer holding the warm-up edit. */
  formMs?: number
  /** Each peer added at this size: from opening its page to being in the room (Kith: admitted by invite). */
  addMs?: Summary
  /** Kith: each admission at this size, from opening the invite link to membership. */
  admitMs?: Summary
  /** Kith: connections opened and closed in the whole room while the edits ran. */
  churn?: Churn
  latency?: Summary
  /** Edits some peer did not receive within the wait. */
  lost?: number
  /** Per edit, summed over all pages: the sync protocol alone (Kith) and everything on data channels. */
  perEdit?: { sync: WireCount; room?: WireCount; all: WireCount }
  /** Direct links per peer (Kith: sync links; y-webrtc: WebRTC connections). */
  links?: number
  /** Percent of one core the browser used per page while the formed room sat idle. */
  idleCpu?: number
  /** While the room sat idle, per page per 10 s: data channels opened, messages sent, and the top protocols. */
  idleWire?: { channels: number; messages: number; byProtocol: Array<[string, number]> }
}

export interface JoinResult {
  bytes: number
  /** From the newcomer's start (Kith: being admitted) to holding the whole document. */
  ms?: Summary
  /** Kith: from opening the invite link (PIN entered) to holding the whole document; y-webrtc's `ms` starts there too. */
  fromInviteMs?: Summary
  failures: string[]
}

export interface SyncFigures {
  edits: number
  intervalMs: number
  kith: { sizes: SizeResult[]; joins: JoinResult[] }
  yWebrtc: { sizes: SizeResult[]; joins: JoinResult[] }
}

type Call = (method: string, ...args: unknown[]) => Promise<unknown>

interface Peer {
  context: BrowserContext
  page: Page
  call: Call
}

interface Env {
  browser: Browser
  url: string
  relays: string[]
  progress(line: string): void
}

/** Counts every RTCDataChannel message a page sends, by the libp2p protocol its stream negotiated. */
function wireCounter(): void {
  const counts = {
    all: { messages: 0, bytes: 0 },
    byProtocol: {} as Record<string, WireCount>,
    /** Data channels this page opened or was opened (each libp2p stream on WebRTC is one). */
    channels: 0
  }
  const protocolOf = new WeakMap<RTCDataChannel, string>()
  const seen = new WeakMap<RTCDataChannel, number>()
  const decoder = new TextDecoder()
  // when each data channel message was sent and arrived (BENCH_TRACE's breakdown of an edit's path)
  const MAX_STAMPS = 20_000
  const stamps = { sends: [] as number[], arrivals: [] as number[] }
  const stamp = (channel: RTCDataChannel): void => {
    counts.channels++
    channel.addEventListener('message', () => {
      if (stamps.arrivals.length < MAX_STAMPS)
        stamps.arrivals.push(performance.timeOrigin + performance.now())
    })
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the channel as `this` below
  const send = RTCDataChannel.prototype.send
  RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: never) {
    const d = data as ArrayBuffer | ArrayBufferView | Blob | string
    const bytes =
      typeof d === 'string' ? d.length : d instanceof Blob ? d.size : (d as ArrayBuffer).byteLength
    counts.all.messages++
    counts.all.bytes += bytes
    let protocol = protocolOf.get(this)
    const early = seen.get(this) ?? 0
    if (protocol == null && early < 4 && typeof d !== 'string' && !(d instanceof Blob)) {
      // a libp2p stream names its protocol in its first messages (multistream-select)
      seen.set(this, early + 1)
      const view = ArrayBuffer.isView(d)
        ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
        : new Uint8Array(d)
      const match = /\/(?:kith|ipfs|libp2p)\/[\w./-]+\/\d+\.\d+\.\d+/.exec(
        decoder.decode(view.subarray(0, 512))
      )
      if (match != null) {
        protocol = match[0]
        protocolOf.set(this, protocol)
      }
    }
    const key = protocol ?? 'other'
    const entry = (counts.byProtocol[key] ??= { messages: 0, bytes: 0 })
    entry.messages++
    entry.bytes += bytes
    if (stamps.sends.length < MAX_STAMPS) stamps.sends.push(performance.timeOrigin + performance.now())
    return send.call(this, data)
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the connection as `this` below
  const createDataChannel = RTCPeerConnection.prototype.createDataChannel
  RTCPeerConnection.prototype.createDataChannel = function (this: RTCPeerConnection, ...args) {
    const channel = createDataChannel.apply(this, args)
    stamp(channel)
    return channel
  }
  const Connection = RTCPeerConnection
  window.RTCPeerConnection = class extends Connection {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args)
      this.addEventListener('datachannel', (event) => {
        stamp(event.channel)
      })
    }
  }
  Object.assign(window, { wire: counts, stamps })
}

interface Wire {
  all: WireCount
  byProtocol: Record<string, WireCount>
  channels: number
}

async function openPeer(env: Env): Promise<Peer> {
  const context = await env.browser.newContext()
  await context.addInitScript(wireCounter)
  const page = await context.newPage()
  // a page loads slowly on a saturated machine (the 44th page of a room took over 30 s, Playwright's default):
  // what is measured is the room, not the page load
  await page.goto(env.url, { timeout: PAGE_LOAD_TIMEOUT_MS })
  const call: Call = async (method, ...args) =>
    page.evaluate(
      ([m, a]) => {
        const bench = (window as unknown as { bench: Record<string, (...x: unknown[]) => unknown> }).bench
        const fn = bench[m]
        if (fn == null) throw new TypeError(`no bench function ${m}`)
        return fn(...a)
      },
      [method, args] as const
    )
  return { context, page, call }
}

async function closeAll(peers: Peer[]): Promise<void> {
  await Promise.all(peers.map(async (p) => p.context.close().catch(() => undefined)))
  peers.length = 0
}

/** Data-channel messages and bytes sent by all `peers` so far: the sync protocol's, the room protocol's, all. */
async function wire(peers: Peer[]): Promise<{ sync: WireCount; room: WireCount; all: WireCount }> {
  const total = {
    sync: { messages: 0, bytes: 0 },
    room: { messages: 0, bytes: 0 },
    all: { messages: 0, bytes: 0 }
  }
  const add = (to: WireCount, w: WireCount | undefined): void => {
    to.messages += w?.messages ?? 0
    to.bytes += w?.bytes ?? 0
  }
  for (const peer of peers) {
    const w = (await peer.page.evaluate(() => (window as unknown as { wire: unknown }).wire)) as Wire
    add(total.all, w.all)
    add(total.sync, w.byProtocol[SYNC_PROTOCOL])
    add(total.room, w.byProtocol[ROOM_PROTOCOL])
  }
  return total
}

const minus = (a: WireCount, b: WireCount, per: number): WireCount => ({
  messages: (a.messages - b.messages) / per,
  bytes: (a.bytes - b.bytes) / per
})

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new RangeError(`${what}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const pause = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The two systems under test, behind one interface: how a peer joins a room and how many links it holds. */
interface System {
  name: string
  /** Opens the room's first peer. */
  found(env: Env): Promise<Peer>
  /** Adds a peer to the room founded by `first`. */
  add(env: Env, first: Peer): Promise<Peer>
  links(peer: Peer): Promise<number>
  /** Whether every peer has the links a formed room of this size has. */
  formed(peers: Peer[]): Promise<boolean>
  /** Kith: how long each admission took, from the invite link to membership (the page's start not included). */
  admissions?: number[]
  /** Kith: connections opened and closed so far, summed over `peers`. */
  churn?(peers: Peer[]): Promise<Churn>
}

/**
 * Why a newcomer could not join, from both ends: the inviter's failed exchanges with it (waited for up to
 * `INVITE_ERROR_WAIT_MS`, since a half-open connection leaves the inviter's read waiting), and both ends' logs of the
 * connection between them (opens and closes, with reasons). Only the newcomer's stream reset was known before.
 */
async function joinFailure(newcomer: Peer, inviter: Peer, id: string): Promise<string> {
  const tag = id.slice(-6)
  const mine = (lines: unknown): string[] =>
    (Array.isArray(lines) ? (lines as string[]) : []).filter((line) => line.includes(tag))
  const newcomerLog = (await newcomer.call('kithConnectionLog').catch(() => [])) as string[]
  const deadline = Date.now() + INVITE_ERROR_WAIT_MS
  let answered: string[] = []
  while (Date.now() < deadline) {
    answered = mine(await inviter.call('kithInviteErrors').catch(() => []))
    if (answered.length > 0) break
    await pause(500)
  }
  const inviterLog = mine(await inviter.call('kithConnectionLog').catch(() => []))
  return [
    `\n  the inviter's failed exchanges with ${tag}: ${answered.length > 0 ? answered.join('; ') : `none within ${INVITE_ERROR_WAIT_MS} ms`}`,
    `\n  the newcomer's connection log (last 12):\n    ${newcomerLog.slice(-12).join('\n    ')}`,
    `\n  the inviter's log of ${tag}:\n    ${inviterLog.slice(-12).join('\n    ')}`
  ].join('')
}

function kithSystem(): System & { room(): string } {
  let room = ''
  /** Each started page's peer id, for reading a failed newcomer's connection in the inviter's log. */
  const ids = new WeakMap<Peer, string>()
  const start = async (env: Env): Promise<Peer> => {
    const peer = await openPeer(env)
    ids.set(peer, (await peer.call('start', env.relays, PAGE_OPTIONS)) as string)
    await peer.call('kithStart')
    return peer
  }
  const system: System & { room(): string } = {
    name: 'Kith',
    room: () => room,
    admissions: [],
    async found(env) {
      const peer = await start(env)
      room = (await peer.call('kithCreate')) as string
      return peer
    },
    async add(env, first) {
      const peer = await start(env)
      let lastError: unknown
      // a failed invite exchange is reported by the caller if it keeps failing
      for (let attempt = 0; attempt < 3; attempt++) {
        const { link, pin } = (await first.call('kithInvite', room)) as { link: string; pin: string }
        try {
          const joined = (await peer.call('kithJoin', link, pin)) as { started: number; member: number }
          system.admissions?.push(joined.member - joined.started)
          return peer
        } catch (err: unknown) {
          lastError = err
        }
      }
      if (lastError instanceof Error) lastError.message += await joinFailure(peer, first, ids.get(peer) ?? '')
      await peer.context.close()
      throw lastError as Error
    },
    async links(peer) {
      return ((await peer.call('kithLinks', room)) as { links: number }).links
    },
    async churn(peers) {
      const total = { opened: 0, closed: 0, neighbourOpened: 0, neighbourClosed: 0 }
      const reasons: Record<string, number> = {}
      for (const peer of peers) {
        const c = (await peer.call('kithLinks', room)) as Required<Churn>
        for (const key of Object.keys(total) as Array<keyof typeof total>) total[key] += c[key]
        for (const [reason, n] of Object.entries(c.reasons)) reasons[reason] = (reasons[reason] ?? 0) + n
      }
      return { ...total, reasons }
    },
    async formed(peers) {
      for (const peer of peers) {
        const { links, members } = (await peer.call('kithLinks', room)) as { links: number; members: number }
        if (members < peers.length || links < 1) return false
      }
      return true
    }
  }
  return system
}

function yWebrtcSystem(signaling: string): System {
  const room = `bench-${Math.random().toString(36).slice(2)}`
  const system: System = {
    name: 'y-webrtc',
    async found(env) {
      const peer = await openPeer(env)
      await peer.call('ywJoin', signaling, room)
      return peer
    },
    async add(env) {
      return system.found(env)
    },
    async links(peer) {
      return (await peer.call('ywLinks')) as number
    },
    async formed(peers) {
      // y-webrtc floods every update to every link, so a room is usable once each peer has a link; it then gets
      // a few seconds to build the full mesh it aims for
      const links = async (): Promise<number[]> => Promise.all(peers.map(async (p) => system.links(p)))
      if ((await links()).some((l) => l < 1)) return false
      await until(async () => (await links()).every((l) => l >= peers.length - 1), 10_000, 'full mesh').catch(
        () => undefined
      )
      return true
    }
  }
  return system
}

/** One size: `EDITS` edits from peer 0 at a fixed rate; each edit's latency is to the last peer holding it. */
async function measureEdits(peers: Peer[], size: number): Promise<Omit<SizeResult, 'peers' | 'formed'>> {
  const [first, ...others] = peers
  if (first == null) throw new TypeError('no peers')
  const cdp = PROFILE_IDLE || PROFILE_GROW ? undefined : await startProfile(peers)
  const before = await wire(peers)
  const sent = new Map<string, number>()
  for (let i = 0; i < EDITS; i++) {
    const key = `n${size}-${i}`
    sent.set(key, (await first.call('edit', key)) as number)
    await pause(EDIT_INTERVAL_MS)
  }
  const keys = [...sent.keys()]
  const last = keys.at(-1) ?? ''
  await Promise.all(others.map(async (p) => p.call('waitKey', last, 10_000)))
  // edits still in flight after the last one arrived get the same grace
  await pause(500)
  const after = await wire(peers)
  if (cdp != null) process.stderr.write(`\n${selfTimes((await cdp.send('Profiler.stop')).profile, size)}\n`)
  const arrived = await Promise.all(
    others.map(async (p) => (await p.call('arrivals', keys)) as Record<string, number>)
  )
  if (TRACE && others[0] != null) {
    process.stderr.write(
      `\nedit path at ${size} peers, ${await trace(first, others[0], sent, arrived[0] ?? {})}\n`
    )
  }
  const latencies: number[] = []
  let lost = 0
  for (const [key, at] of sent) {
    const times = arrived.map((a) => a[key])
    if (times.some((t) => t == null)) {
      lost++
      continue
    }
    latencies.push(Math.max(...(times as number[])) - at)
  }
  return {
    latency: summarize(latencies),
    lost,
    perEdit: {
      sync: minus(after.sync, before.sync, EDITS),
      room: minus(after.room, before.room, EDITS),
      all: minus(after.all, before.all, EDITS)
    }
  }
}

/** BENCH_TRACE's breakdown of each edit's path from `author` to `receiver`, by its data channel stamps. */
async function trace(
  author: Peer,
  receiver: Peer,
  sent: Map<string, number>,
  arrived: Record<string, number>
): Promise<string> {
  type Stamps = {
    sends: number[]
    arrivals: number[]
    transactionsBegun: number[]
    transactionsEnded: number[]
  }
  const stampsOf = async (peer: Peer): Promise<Stamps> =>
    peer.page.evaluate(() => (window as unknown as { stamps: Stamps }).stamps)
  const { sends, transactionsEnded } = await stampsOf(author)
  const { arrivals, transactionsBegun } = await stampsOf(receiver)
  const firstAfter = (times: number[], t: number): number | undefined => times.find((x) => x >= t)
  const stages = {
    transaction: [] as number[],
    author: [] as number[],
    channel: [] as number[],
    receiver: [] as number[],
    apply: [] as number[]
  }
  for (const [key, at] of sent) {
    const out = firstAfter(sends, at)
    const landed = arrived[key]
    if (out == null || landed == null) continue
    const inbound = firstAfter(arrivals, out)
    if (inbound == null || inbound > landed) continue
    const ended = firstAfter(transactionsEnded, at)
    const begun = firstAfter(transactionsBegun, inbound)
    if (ended == null || ended > out || begun == null || begun > landed) continue
    stages.transaction.push(ended - at)
    stages.author.push(out - ended)
    stages.channel.push(inbound - out)
    stages.receiver.push(begun - inbound)
    stages.apply.push(landed - begun)
  }
  const median = (xs: number[]): string => fixed(summarize(xs).median, 3)
  return (
    `${stages.author.length} edits (medians, ms): the author's transaction ${median(stages.transaction)}` +
    ` · to the data channel ${median(stages.author)} · data channel ${median(stages.channel)}` +
    ` · to the receiver's transaction ${median(stages.receiver)} · its transaction ${median(stages.apply)}`
  )
}

interface CpuProfile {
  nodes: Array<{
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: number[]
  }>
  samples?: number[]
  timeDeltas?: number[]
}

/** The functions that took most of a profile's samples: by self time, and by total time (callees included). */
function selfTimes(profile: CpuProfile, size: number): string {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const nameOf = (id: number): string => {
    const frame = byNode.get(id)?.callFrame
    return `${frame?.functionName || '(anonymous)'} ${frame?.url.split('/').pop() ?? ''}:${frame?.lineNumber ?? 0}`
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  const deltas = profile.timeDeltas ?? []
  let all = 0
  ;(profile.samples ?? []).forEach((id, i) => {
    const us = deltas[i] ?? 0
    all += us
    self.set(nameOf(id), (self.get(nameOf(id)) ?? 0) + us)
    const stack = new Set<string>()
    for (let at: number | undefined = id; at != null; at = parent.get(at)) stack.add(nameOf(at))
    for (const name of stack) total.set(name, (total.get(name) ?? 0) + us)
  })
  const rows = (m: Map<string, number>): string[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 30)
      .map(
        ([name, us]) =>
          `${fixed(us / 1000, 1).padStart(8)} ms  ${fixed((100 * us) / all, 1).padStart(5)} %  ${name}`
      )
  return [
    `profile of peer ${PROFILE ?? 0} at ${size} peers: ${fixed(all / 1000, 0)} ms sampled; self time:`,
    ...rows(self),
    'total time:',
    ...rows(total)
  ].join('\n')
}

/** Grows one room through `sizes`, measuring at each; stops at the first size past the latency limit. */
async function growRoom(env: Env, system: System, sizes: number[]): Promise<SizeResult[]> {
  const peers: Peer[] = []
  const results: SizeResult[] = []
  try {
    peers.push(await system.found(env))
    for (const size of sizes) {
      const started = Date.now()
      const adds: number[] = []
      const admitted = system.admissions?.length ?? 0
      let idleCpu: number | undefined
      let idleWire: SizeResult['idleWire']
      try {
        const growing = PROFILE_GROW ? await startProfile(peers) : undefined
        const tallied = TALLY_STREAMS != null ? peers[TALLY_STREAMS] : undefined
        await tallied?.call('kithStreamTally')
        while (peers.length < size) {
          env.progress(`${system.name}: room of ${size}, adding peer ${peers.length + 1}…`)
          const added = Date.now()
          peers.push(await system.add(env, peers[0] as Peer))
          adds.push(Date.now() - added)
        }
        if (tallied != null) {
          process.stderr.write(
            `\nstreams while growing to ${size}: ${JSON.stringify(await tallied.call('kithStreamTally'), null, 1)}\n`
          )
        }
        if (growing != null) {
          process.stderr.write(
            `\ngrowing ${selfTimes((await growing.send('Profiler.stop')).profile, size)}\n`
          )
        }
        env.progress(`${system.name}: room of ${size}, waiting for links…`)
        await until(async () => system.formed(peers), FORM_TIMEOUT_MS, `a room of ${size} forming`)
        // the mesh moves as the room grows: let the last newcomer's dials finish before timing edits
        await pause(SETTLE_MS)
        const shown = SHOW_CONNECTIONS != null ? peers[SHOW_CONNECTIONS] : undefined
        if (shown != null) {
          process.stderr.write(
            `\nconnections at ${size}: ${JSON.stringify(await shown.call('kithConnections'), null, 1)}\n`
          )
        }
        const cdp = PROFILE_IDLE ? await startProfile(peers) : undefined
        const idle = await idleCpuPerPage(peers)
        idleCpu = idle.cpu
        idleWire = idle.wire
        if (shown != null) {
          process.stderr.write(
            `\nconnection log at ${size}:\n${((await shown.call('kithConnectionLog')) as string[]).join('\n')}\n`
          )
        }
        if (cdp != null) {
          process.stderr.write(`\nidle ${selfTimes((await cdp.send('Profiler.stop')).profile, size)}\n`)
        }
        const warm = `warm-${size}`
        await peers[0]?.call('edit', warm)
        const reached = await Promise.all(peers.map(async (p) => p.call('waitKey', warm, FORM_TIMEOUT_MS)))
        if (reached.some((r) => r !== true)) throw new RangeError('the warm-up edit did not reach every peer')
      } catch (err: unknown) {
        const message = (err as Error).message
        // the table keeps the first line; the diagnosis (a failed join's two ends) goes to the log
        if (message.includes('\n'))
          process.stderr.write(`\n${system.name}: a room of ${size} did not form: ${message}\n`)
        results.push({ peers: size, formed: false, error: message.split('\n')[0] })
        break
      }
      const formMs = Date.now() - started
      env.progress(`${system.name}: room of ${size}, ${EDITS} edits…`)
      const churnBefore = await system.churn?.(peers)
      const measured = await measureEdits(peers, size)
      const churnAfter = await system.churn?.(peers)
      const links = await Promise.all(peers.map(async (p) => system.links(p)))
      results.push({
        peers: size,
        formed: true,
        formMs,
        ...(adds.length > 0 ? { addMs: summarize(adds) } : {}),
        ...(adds.length > 0 && system.admissions != null
          ? { admitMs: summarize(system.admissions.slice(admitted)) }
          : {}),
        ...measured,
        links: links.reduce((a, b) => a + b, 0) / links.length,
        ...(idleCpu != null ? { idleCpu } : {}),
        ...(idleWire != null ? { idleWire } : {}),
        ...(churnBefore != null && churnAfter != null
          ? {
              churn: {
                opened: churnAfter.opened - churnBefore.opened,
                closed: churnAfter.closed - churnBefore.closed,
                neighbourOpened: churnAfter.neighbourOpened - churnBefore.neighbourOpened,
                neighbourClosed: churnAfter.neighbourClosed - churnBefore.neighbourClosed,
                reasons: Object.fromEntries(
                  Object.entries(churnAfter.reasons ?? {})
                    .map(([reason, n]): [string, number] => [
                      reason,
                      n - (churnBefore.reasons?.[reason] ?? 0)
                    ])
                    .filter(([, n]) => n > 0)
                )
              }
            }
          : {})
      })
      if ((measured.latency?.median ?? Infinity) > LATENCY_LIMIT_MS || (measured.lost ?? 0) > EDITS / 2) break
    }
  } finally {
    await closeAll(peers)
  }
  return results
}

/** Starts a CPU profile of peer `BENCH_PROFILE`, when it is set and that peer exists. */
async function startProfile(peers: Peer[]): Promise<CDPSession | undefined> {
  const profiled = PROFILE != null ? peers[PROFILE] : undefined
  if (profiled == null) return undefined
  const cdp = await profiled.context.newCDPSession(profiled.page)
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US })
  await cdp.send('Profiler.start')
  return cdp
}

/** CPU seconds every Chromium process of the machine (browser, GPU, renderers, utilities) has used so far. */
function chromiumCpuSeconds(): number {
  let ticks = 0
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('chromium')) continue
      // after "pid (comm) ": state, ppid, …; utime and stime are the 12th and 13th
      const fields = stat.slice(close + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // the process ended while being read
    }
  }
  return ticks / CLOCK_TICKS
}

/** Percent of one core the browser uses per page over `IDLE_MS` of an idle room; undefined when not sampled. */
/**
 * The CPU every Chromium process used while the room sat idle for `IDLE_MS`, per page, and the data channels and
 * messages the pages made meanwhile (Kith's pages count them; y-webrtc's too).
 */
async function idleCpuPerPage(
  peers: Peer[]
): Promise<{ cpu?: number; wire?: NonNullable<SizeResult['idleWire']> }> {
  if (IDLE_MS <= 0) return {}
  const snapshot = async (): Promise<Wire[]> =>
    Promise.all(
      peers.map(async (p) =>
        p.page.evaluate(() => structuredClone((window as unknown as { wire: Wire }).wire))
      )
    )
  const before = await snapshot()
  const cpu = chromiumCpuSeconds()
  const started = Date.now()
  await pause(IDLE_MS)
  const seconds = (Date.now() - started) / 1000
  const used = ((chromiumCpuSeconds() - cpu) / seconds / peers.length) * 100
  const after = await snapshot()
  const per = (n: number): number => (n * 10) / seconds / peers.length
  let channels = 0
  let messages = 0
  const byProtocol = new Map<string, number>()
  after.forEach((w, i) => {
    const b = before[i] as Wire
    channels += w.channels - b.channels
    messages += w.all.messages - b.all.messages
    for (const [protocol, count] of Object.entries(w.byProtocol)) {
      const sent = count.messages - (b.byProtocol[protocol]?.messages ?? 0)
      if (sent > 0) byProtocol.set(protocol, (byProtocol.get(protocol) ?? 0) + sent)
    }
  })
  const top = [...byProtocol]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([protocol, n]): [string, number] => [protocol, per(n)])
  return { cpu: used, wire: { channels: per(channels), messages: per(messages), byProtocol: top } }
}

async function kithJoins(env: Env, bytes: number): Promise<JoinResult> {
  const system = kithSystem()
  const host = await system.found(env)
  const result: JoinResult = { bytes, failures: [] }
  const ms: number[] = []
  const fromInvite: number[] = []
  try {
    await host.call('fill', bytes)
    for (let round = 0; round < JOIN_ROUNDS; round++) {
      env.progress(`Kith: join → synced, ${bytes} bytes, round ${round + 1}/${JOIN_ROUNDS}…`)
      const peer = await openPeer(env)
      try {
        await peer.call('start', env.relays, PAGE_OPTIONS)
        await peer.call('kithStart')
        const { link, pin } = (await host.call('kithInvite', system.room())) as { link: string; pin: string }
        const joined = (await peer.call('kithJoin', link, pin)) as { started: number; member: number }
        const done = (await peer.call('waitText', bytes, KITH_JOIN_LIMIT_MS)) as number
        ms.push(done - joined.member)
        fromInvite.push(done - joined.started)
      } catch (err: unknown) {
        result.failures.push((err as Error).message.split('\n')[0] ?? 'failed')
      } finally {
        await peer.context.close()
      }
    }
  } finally {
    await host.context.close()
  }
  if (ms.length > 0) result.ms = summarize(ms)
  if (fromInvite.length > 0) result.fromInviteMs = summarize(fromInvite)
  return result
}

async function yWebrtcJoins(env: Env, signaling: string, bytes: number): Promise<JoinResult> {
  const result: JoinResult = { bytes, failures: [] }
  const ms: number[] = []
  for (let round = 0; round < JOIN_ROUNDS; round++) {
    env.progress(`y-webrtc: join → synced, ${bytes} bytes, round ${round + 1}/${JOIN_ROUNDS}…`)
    const room = `join-${bytes}-${round}-${Math.random().toString(36).slice(2)}`
    const host = await openPeer(env)
    const peer = await openPeer(env)
    try {
      await host.call('ywJoin', signaling, room)
      await host.call('fill', bytes)
      const started = await peer.page.evaluate(() => performance.timeOrigin + performance.now())
      await peer.call('ywJoin', signaling, room)
      const done = (await peer.call('waitText', bytes, YW_JOIN_LIMIT_MS)) as number
      ms.push(done - started)
    } catch (err: unknown) {
      result.failures.push((err as Error).message.split('\n')[0] ?? 'failed')
    } finally {
      await Promise.all([host.context.close(), peer.context.close()])
    }
  }
  if (ms.length > 0) result.ms = summarize(ms)
  return result
}

/** y-webrtc's own signaling server (the package's bin/server.js, unchanged), on 127.0.0.1. */
async function startSignaling(): Promise<{ url: string; stop(): void }> {
  // y-webrtc's exports map hides bin/ and package.json; its CommonJS entry sits in dist/ beside bin/
  const require = createRequire(import.meta.url)
  const server = join(dirname(require.resolve('y-webrtc')), '..', 'bin', 'server.js')
  const preload = fileURLToPath(new URL('./loopback.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', preload, server], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /LISTENING (\d+)/.exec(out)
      if (match != null) resolve(Number(match[1]))
    })
    child.once('exit', (code) => reject(new Error(`y-webrtc's signaling server exited (${code})`)))
  })
  return {
    url: `ws://127.0.0.1:${port}`,
    stop: () => child.kill('SIGTERM')
  }
}

export async function measureSync(env: Env): Promise<SyncFigures> {
  const signaling = await startSignaling()
  try {
    const figures: SyncFigures = {
      edits: EDITS,
      intervalMs: EDIT_INTERVAL_MS,
      yWebrtc: { sizes: [] as SizeResult[], joins: [] as JoinResult[] },
      kith: { sizes: [] as SizeResult[], joins: [] as JoinResult[] }
    }
    const grow = {
      yWebrtc: async () => {
        figures.yWebrtc.sizes = await growRoom(env, yWebrtcSystem(signaling.url), YW_SIZES)
      },
      kith: async () => {
        figures.kith.sizes = await growRoom(env, kithSystem(), KITH_SIZES)
      }
    }
    for (const system of KITH_FIRST ? (['kith', 'yWebrtc'] as const) : (['yWebrtc', 'kith'] as const)) {
      await grow[system]()
    }
    for (const bytes of JOIN_BYTES) {
      figures.yWebrtc.joins.push(await yWebrtcJoins(env, signaling.url, bytes))
      figures.kith.joins.push(await kithJoins(env, bytes))
    }
    return figures
  } finally {
    signaling.stop()
  }
}

const ms = (s: Summary | undefined): string => (s == null ? '—' : `${fixed(s.median)} / ${fixed(s.p95)}`)

function sizeCell(r: SizeResult | undefined): string {
  if (r == null) return 'not run'
  if (!r.formed) return `did not form: ${r.error ?? ''}`
  const lost = (r.lost ?? 0) > 0 ? `; **${r.lost} lost**` : ''
  return `${ms(r.latency)} ms${lost}`
}

function perEditCell(r: SizeResult | undefined, kith: boolean): string {
  if (r?.perEdit == null) return '—'
  const n = r.peers
  const { sync, room, all } = r.perEdit
  const count = (w: WireCount): string => `${fixed(w.messages / n, 2)} n · ${fixed(w.bytes / 1024, 1)} KB`
  const background = room != null ? `, of which the room protocol ${count(room)}` : ''
  return kith ? `${count(sync)} (all traffic: ${count(all)}${background})` : count(all)
}

function largest(results: SizeResult[]): string {
  const ok = results.filter(
    (r) => r.formed && (r.latency?.median ?? Infinity) <= LATENCY_LIMIT_MS && (r.lost ?? 0) === 0
  )
  const top = ok.at(-1)?.peers
  const tried = results.at(-1)
  const capped = tried != null && tried === ok.at(-1) ? ` (the largest size tried)` : ''
  return top == null ? 'none' : `${top}${capped}`
}

function joinCell(j: JoinResult | undefined, kith: boolean): string {
  if (j == null) return '—'
  const failed = j.failures.length > 0 ? `; **${j.failures.length} failed** (${j.failures[0]})` : ''
  if (j.ms == null) return `failed${failed}`
  if (kith && j.fromInviteMs != null)
    return `${fixed(j.fromInviteMs.median)} ms from the invite link (${fixed(j.ms.median)} from admission)${failed}`
  return `${fixed(j.ms.median)} ms${failed}`
}

export function renderSync(f: SyncFigures): string {
  const sizesTried = [...new Set([...f.kith.sizes, ...f.yWebrtc.sizes].map((r) => r.peers))].sort(
    (a, b) => a - b
  )
  const ratio = (k: SizeResult | undefined, y: SizeResult | undefined): string =>
    k?.latency != null && y?.latency != null ? `${fixed(k.latency.median / y.latency.median, 2)}×` : '—'
  const rows = sizesTried.map((n) => {
    const k = f.kith.sizes.find((r) => r.peers === n)
    const y = f.yWebrtc.sizes.find((r) => r.peers === n)
    return [`edit latency, ${n} peers (median / p95)`, sizeCell(k), sizeCell(y), ratio(k, y)]
  })
  const wireRows = sizesTried.map((n) => {
    const k = f.kith.sizes.find((r) => r.peers === n)
    const y = f.yWebrtc.sizes.find((r) => r.peers === n)
    return [`messages · bytes per edit, ${n} peers`, perEditCell(k, true), perEditCell(y, false), '']
  })
  const linkRows = sizesTried.map((n) => {
    const k = f.kith.sizes.find((r) => r.peers === n)
    const y = f.yWebrtc.sizes.find((r) => r.peers === n)
    return [`links per peer · growing the room to ${n} took`, linkCell(k), linkCell(y), '']
  })
  const idleRows = sizesTried.map((n) => {
    const k = f.kith.sizes.find((r) => r.peers === n)
    const y = f.yWebrtc.sizes.find((r) => r.peers === n)
    const traffic = (w: SizeResult['idleWire']): string =>
      w == null
        ? ''
        : `; per 10 s ${fixed(w.channels, 1)} data channels opened, ${fixed(w.messages, 1)} messages${
            w.byProtocol.length > 0
              ? ` (${w.byProtocol.map(([p, m]) => `${p.replace(/^\/kith\//, '')} ${fixed(m, 1)}`).join(', ')})`
              : ''
          }`
    const cell = (r: SizeResult | undefined): string =>
      r?.idleCpu != null ? `${fixed(r.idleCpu, 1)} % of a core${traffic(r.idleWire)}` : '—'
    const r = k?.idleCpu != null && y?.idleCpu != null ? `${fixed(k.idleCpu / y.idleCpu, 2)}×` : ''
    return [`idle CPU per page (browser total ÷ pages), ${n} peers`, cell(k), cell(y), r]
  })
  const joinRows = JOIN_BYTES.map((bytes) => {
    const k = f.kith.joins.find((j) => j.bytes === bytes)
    const y = f.yWebrtc.joins.find((j) => j.bytes === bytes)
    // both start when the newcomer starts (Kith: opens the invite link with its PIN; y-webrtc: opens the room)
    const r =
      k?.fromInviteMs != null && y?.ms != null ? `${fixed(k.fromInviteMs.median / y.ms.median, 2)}×` : '—'
    return [`join → synced, ${label(bytes)}`, joinCell(k, true), joinCell(y, false), r]
  })
  return [
    `### Shared state: @kith/sync against y-webrtc (Chromium pages, one context each, loopback; one edit every ${f.intervalMs} ms, ${f.edits} edits per size)`,
    '',
    table(
      ['measure', 'Kith (@kith/sync)', 'y-webrtc 10 (its signaling server)', 'Kith ÷ y-webrtc'],
      [
        ...rows,
        ...wireRows,
        ...linkRows,
        ...idleRows,
        ['largest room with median latency ≤ 1 s', largest(f.kith.sizes), largest(f.yWebrtc.sizes), ''],
        ...joinRows
      ]
    )
  ].join('\n')
}

function linkCell(r: SizeResult | undefined): string {
  if (r?.links == null) return '—'
  const admit = r.admitMs != null ? `, of which the invite exchange ${fixed(r.admitMs.median, 0)} ms` : ''
  const adds = r.addMs != null ? ` (a new peer: median ${fixed(r.addMs.median / 1000, 1)} s${admit})` : ''
  const churn =
    r.churn != null
      ? `; during the edits ${r.churn.opened} direct connections opened (${r.churn.neighbourOpened} to mesh ` +
        `neighbours), ${r.churn.closed} closed (${r.churn.neighbourClosed} to mesh neighbours)` +
        (Object.keys(r.churn.reasons ?? {}).length > 0
          ? `: ${Object.entries(r.churn.reasons ?? {})
              .map(([reason, n]) => `${reason} ×${n}`)
              .join(', ')}`
          : '')
      : ''
  return `${fixed(r.links, 1)} · ${fixed((r.formMs ?? Number.NaN) / 1000, 1)} s${adds}${churn}`
}

function label(bytes: number): string {
  return bytes >= 1e6 ? `${bytes / 1e6} MB` : `${bytes / 1e3} KB`
}
