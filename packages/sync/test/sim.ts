import { decodeFrame, encodeFrame } from '../src/frames.ts'
import { Replica } from '../src/replica.ts'
import { BroadcastTrees } from '../src/tree.ts'
import type { Frame } from '../src/frames.ts'

/** A small seeded PRNG (mulberry32): the same seed gives the same network and the same edits. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Faults {
  drop: number
  duplicate: number
  /** Extra delay in ticks, up to this many: messages overtake each other. */
  jitter: number
}

interface InFlight {
  at: number
  from: string
  to: string
  bytes: Uint8Array
}

/**
 * A simulated network of replicas: every message is encoded, delayed, maybe dropped, duplicated or reordered, and
 * decoded at the other end; partitions cut links both ways. Replicas skip forwarding to peers linked to an update's
 * author (or, routing by trees, peers another replica is their tree parent for), and are told two peers are linked
 * even while a partition cuts them. Time moves only when `step` is called.
 */
export class SimNet {
  readonly replicas = new Map<string, Replica>()
  private readonly queue: InFlight[] = []
  private readonly cut = new Set<string>()
  /** Pairs ever connected: what replicas are told is linked, and stale on purpose while a partition cuts them. */
  private readonly pairs = new Set<string>()
  private time = 0
  /** The links as a graph, for broadcast trees (as stale as `pairs`). */
  private readonly graph = new Map<string, Set<string>>()
  private trees?: BroadcastTrees
  faults: Faults = { drop: 0, duplicate: 0, jitter: 0 }
  delivered = 0
  /** Update frames (pushed edits) delivered, and the most copies of one update one replica was given. */
  updates = 0
  mostCopies = 0
  private readonly copies = new Map<string, number>()
  rejected = 0
  /** Pushed edits delivered without a signature (sent by a replica linked to every other). */
  unsigned = 0

  /**
   * `author`: replicas skip only peers linked to an update's author. `trees`: they also skip peers whose parent in
   * the broadcast tree rooted at the author is another replica (as `@kith/sync` does). `direct`: a replica linked
   * to every other sends its edits unsigned (as `@kith/sync` does), and a lost one is only healed by pulls.
   */
  constructor(
    private readonly random: () => number,
    private readonly routing: 'author' | 'trees' = 'author',
    private readonly direct = false
  ) {}

  add(id: string): Replica {
    const replica = new Replica({
      room: 'sim-room',
      self: id,
      sign: () => new Uint8Array(64),
      verify: () => true,
      mayWrite: () => true,
      linked: (origin, peer, from) => this.linked(id, origin, peer, from),
      direct: () => this.direct && (this.graph.get(id)?.size ?? 0) === this.replicas.size - 1,
      now: () => this.time
    })
    replica.addEventListener('rejected', () => this.rejected++)
    this.replicas.set(id, replica)
    return replica
  }

  /** Whether `self` leaves `peer` out when forwarding `origin`'s update (see `ReplicaInit.linked`). */
  private linked(self: string, origin: string, peer: string, from?: string): boolean {
    if (this.pairs.has(this.key(origin, peer))) return true
    if (this.routing !== 'trees' || from == null) return false
    this.trees ??= new BroadcastTrees(this.graph)
    if (!this.trees.reaches(origin, self)) return false
    const parents = this.trees.parents(origin, peer)
    return parents.length > 0 && !parents.includes(self)
  }

  private key(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`
  }

  connect(a: string, b: string): void {
    const ra = this.replicas.get(a) as Replica
    const rb = this.replicas.get(b) as Replica
    this.pairs.add(this.key(a, b))
    for (const [x, y] of [
      [a, b],
      [b, a]
    ] as const) {
      const links = this.graph.get(x) ?? new Set<string>()
      links.add(y)
      this.graph.set(x, links)
    }
    this.trees = undefined
    ra.attach(this.link(a, b))
    rb.attach(this.link(b, a))
  }

  private link(from: string, to: string): { peer: string; send: (frame: Frame) => void } {
    return {
      peer: to,
      send: (frame) => {
        if (this.cut.has(this.key(from, to))) return
        const bytes = encodeFrame(frame)
        if (this.random() < this.faults.drop) return
        const copies = this.random() < this.faults.duplicate ? 2 : 1
        for (let i = 0; i < copies; i++) {
          this.queue.push({
            at: this.time + 1 + Math.floor(this.random() * (this.faults.jitter + 1)),
            from,
            to,
            bytes
          })
        }
      }
    }
  }

  partition(groups: string[][]): void {
    this.cut.clear()
    const group = new Map<string, number>()
    groups.forEach((g, i) => g.forEach((id) => group.set(id, i)))
    const ids = [...this.replicas.keys()]
    for (const a of ids) for (const b of ids) if (group.get(a) !== group.get(b)) this.cut.add(this.key(a, b))
  }

  heal(): void {
    this.cut.clear()
  }

  /** Advances one tick: delivers what is due, in arrival order. */
  async step(): Promise<void> {
    this.time++
    const due = this.queue.filter((m) => m.at <= this.time)
    for (const m of due) this.queue.splice(this.queue.indexOf(m), 1)
    for (const m of due) {
      if (this.cut.has(this.key(m.from, m.to))) continue
      const to = this.replicas.get(m.to) as Replica
      try {
        const frame = decodeFrame(m.bytes)
        await to.receive(m.from, frame)
        this.delivered++
        if (frame.t === 'u') {
          this.updates++
          if (frame.s.byteLength === 0) this.unsigned++
          const key = `${m.to}|${frame.o}|${frame.b.join(',')}`
          const copies = (this.copies.get(key) ?? 0) + 1
          this.copies.set(key, copies)
          this.mostCopies = Math.max(this.mostCopies, copies)
        }
      } catch {
        this.rejected++
      }
    }
  }

  get idle(): boolean {
    return this.queue.length === 0
  }

  async settle(maxSteps = 10_000): Promise<void> {
    for (let i = 0; i < maxSteps && !this.idle; i++) await this.step()
  }
}
