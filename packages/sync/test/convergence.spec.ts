import { describe, expect, it } from 'vitest'
import { SimNet, prng } from './sim.ts'
import type { Replica } from '../src/replica.ts'
import type * as Y from 'yjs'

/** One random edit on a random replica: text, a list or a map, in any of the room's documents. */
function edit(replica: Replica, random: () => number): void {
  const doc = replica.doc(random() < 0.7 ? 'notes' : 'board')
  const roll = random()
  if (roll < 0.4) {
    const text = doc.getText('text')
    const at = Math.floor(random() * (text.length + 1))
    if (random() < 0.7 || text.length === 0)
      text.insert(at, String.fromCharCode(97 + Math.floor(random() * 26)))
    else text.delete(Math.min(at, text.length - 1), 1 + Math.floor(random() * Math.min(3, text.length - at)))
  } else if (roll < 0.75) {
    const list = doc.getArray<number>('list')
    if (random() < 0.6 || list.length === 0)
      list.insert(Math.floor(random() * (list.length + 1)), [Math.floor(random() * 1000)])
    else list.delete(Math.floor(random() * list.length), 1)
  } else {
    doc.getMap<number>('map').set(`k${Math.floor(random() * 20)}`, Math.floor(random() * 1000))
  }
}

function snapshot(doc: Y.Doc): string {
  return JSON.stringify({
    text: doc.getText('text').toJSON(),
    list: doc.getArray('list').toJSON(),
    // a map's key order is insertion order on each replica; its contents are what must agree
    map: Object.entries(doc.getMap('map').toJSON()).sort(([a], [b]) => a.localeCompare(b))
  })
}

/** Ring plus chords: the partial mesh a room of `n` uses past full mesh. */
function mesh(net: SimNet, ids: string[]): void {
  const chord = Math.max(2, Math.ceil(Math.sqrt(ids.length)))
  const linked = new Set<string>()
  ids.forEach((id, i) => {
    for (const d of [1, chord]) {
      const other = ids[(i + d) % ids.length] as string
      const key = [id, other].sort().join('|')
      if (other === id || linked.has(key)) continue
      linked.add(key)
      net.connect(id, other)
    }
  })
}

async function run(
  seed: number,
  peers: number,
  ops: number,
  { routing, direct = false }: { routing: 'author' | 'trees'; direct?: boolean }
): Promise<{ net: SimNet; replicas: Replica[] }> {
  const random = prng(seed)
  const net = new SimNet(random, routing, direct)
  const ids = Array.from({ length: peers }, (_, i) => `p${i}`)
  const replicas = ids.map((id) => net.add(id))
  mesh(net, ids)
  net.faults = { drop: 0.05, duplicate: 0.05, jitter: 4 }
  for (let i = 0; i < ops; i++) {
    if (i % 400 === 0) {
      // a new partition every 400 edits, or none
      if (random() < 0.6) {
        const cut = 1 + Math.floor(random() * (peers - 1))
        const shuffled = [...ids].sort(() => random() - 0.5)
        net.partition([shuffled.slice(0, cut), shuffled.slice(cut)])
      } else net.heal()
    }
    edit(replicas[Math.floor(random() * peers)] as Replica, random)
    if (random() < 0.3) await net.step()
    if (i % 100 === 99) for (const r of replicas) r.tick()
  }
  // the network heals and stops losing messages; anti-entropy finishes the job
  net.heal()
  net.faults = { drop: 0, duplicate: 0, jitter: 0 }
  for (let round = 0; round < 3; round++) {
    await net.settle()
    for (const r of replicas) r.tick()
    await net.settle()
  }
  return { net, replicas }
}

describe('convergence on a simulated network that delays, drops, duplicates, reorders and partitions', () => {
  for (const [seed, peers, ops, routing, unsigned] of [
    [1, 8, 3000, 'author', 'signed'],
    [2, 12, 2000, 'author', 'signed'],
    [3, 5, 2000, 'author', 'signed'],
    [4, 16, 1500, 'author', 'signed'],
    [5, 8, 3000, 'trees', 'signed'],
    [6, 16, 2000, 'trees', 'signed'],
    [7, 24, 1500, 'trees', 'signed'],
    [8, 5, 2000, 'trees', 'unsigned'],
    [9, 8, 2000, 'trees', 'unsigned']
  ] as const) {
    const direct = unsigned === 'unsigned'
    const how = `forwarding by ${routing}${direct ? ', edits unsigned where linked to all' : ''}`
    it(`seed ${seed}: ${peers} peers, ${ops} edits, ${how} — every replica ends equal`, async () => {
      const { net, replicas } = await run(seed, peers, ops, { routing, direct })
      // in a full mesh every edit went unsigned; past it, none did
      if (direct) expect(net.unsigned > 0).toBe(peers === 5)
      for (const name of ['notes', 'board']) {
        const first = replicas[0] as Replica
        const expected = snapshot(first.doc(name))
        for (const r of replicas) expect(snapshot(r.doc(name))).toBe(expected)
      }
      expect(net.delivered).toBeGreaterThan(ops)
      // every replica confirms its changes once the network is whole again
      for (const r of replicas) r.confirm()
      await net.settle()
      for (const r of replicas) expect(r.unconfirmed()).toBe(0)
      // the edits went somewhere: a non-trivial document
      expect((replicas[0] as Replica).doc('notes').getText('text').length).toBeGreaterThan(10)
    })
  }

  it('forwarding by trees: on a whole network every edit reaches each other replica at most twice', async () => {
    const counts: Record<string, number> = {}
    for (const routing of ['author', 'trees'] as const) {
      const random = prng(11)
      const net = new SimNet(random, routing)
      const ids = Array.from({ length: 16 }, (_, i) => `p${i}`)
      const replicas = ids.map((id) => net.add(id))
      mesh(net, ids)
      const edits = 200
      for (let i = 0; i < edits; i++) {
        edit(replicas[Math.floor(random() * ids.length)] as Replica, random)
        // the author signs, then pushes: let its push reach the network before delivering
        await new Promise((resolve) => setTimeout(resolve, 0))
        await net.settle()
      }
      for (const r of replicas)
        expect(snapshot(r.doc('notes'))).toBe(snapshot((replicas[0] as Replica).doc('notes')))
      counts[routing] = net.updates / edits
      // by trees no replica is sent one update more than twice (by its first and second parent)
      if (routing === 'trees') expect(net.mostCopies).toBeLessThanOrEqual(2)
      else expect(net.mostCopies).toBeGreaterThan(2)
    }
    // by trees each replica is sent an update by its two parents at most: under 2 (n − 1), fewer than flooding
    expect(counts.trees).toBeGreaterThan(15)
    expect(counts.trees).toBeLessThanOrEqual(2 * 15)
    expect(counts.author).toBeGreaterThan(counts.trees ?? Infinity)
  })
})
