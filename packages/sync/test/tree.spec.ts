import { describe, expect, it } from 'vitest'
import { BroadcastTrees } from '../src/tree.ts'
import { prng } from './sim.ts'

/** A random connected graph: a random spanning tree plus extra edges. */
function randomGraph(n: number, extra: number, random: () => number): Map<string, Set<string>> {
  const ids = Array.from({ length: n }, (_, i) => `d${i}`)
  const graph = new Map(ids.map((id) => [id, new Set<string>()]))
  const link = (a: string, b: string): void => {
    if (a === b) return
    graph.get(a)?.add(b)
    graph.get(b)?.add(a)
  }
  for (let i = 1; i < n; i++) link(ids[i] as string, ids[Math.floor(random() * i)] as string)
  for (let i = 0; i < extra; i++)
    link(ids[Math.floor(random() * n)] as string, ids[Math.floor(random() * n)] as string)
  return graph
}

function depths(graph: Map<string, Set<string>>, origin: string): Map<string, number> {
  const depth = new Map([[origin, 0]])
  const queue = [origin]
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i] as string
    for (const next of graph.get(node) ?? []) {
      if (depth.has(next)) continue
      depth.set(next, (depth.get(node) as number) + 1)
      queue.push(next)
    }
  }
  return depth
}

describe('broadcast trees', () => {
  it('gives every device a neighbour one hop nearer the origin as parent: a shortest-path spanning tree (property)', () => {
    const random = prng(5)
    for (let round = 0; round < 200; round++) {
      const n = 2 + Math.floor(random() * 40)
      const graph = randomGraph(n, Math.floor(random() * 2 * n), random)
      const trees = new BroadcastTrees(graph)
      const origin = `d${Math.floor(random() * n)}`
      const depth = depths(graph, origin)
      expect(trees.parent(origin, origin)).toBeUndefined()
      for (const node of graph.keys()) {
        if (node === origin) continue
        const parent = trees.parent(origin, node) as string
        expect(graph.get(node)?.has(parent)).toBe(true)
        expect(depth.get(parent)).toBe((depth.get(node) as number) - 1)
        // the lowest such neighbour, so every device picks the same one
        for (const other of graph.get(node) ?? [])
          if (depth.get(other) === depth.get(parent)) expect(parent <= other).toBe(true)
        // a second parent, where the device has another neighbour no farther from the origin than itself
        const [, second] = trees.parents(origin, node)
        const candidates = [...(graph.get(node) ?? [])].filter(
          (other) => other !== parent && (depth.get(other) as number) <= (depth.get(node) as number)
        )
        if (candidates.length === 0) expect(second).toBeUndefined()
        else {
          expect(candidates).toContain(second)
          expect(depth.get(second as string)).toBe(Math.min(...candidates.map((c) => depth.get(c) as number)))
        }
      }
    }
  })

  it('is the same tree whatever order the graph lists devices and links in', () => {
    const random = prng(9)
    const graph = randomGraph(20, 25, random)
    const shuffled = new Map(
      [...graph]
        .reverse()
        .map(([id, links]) => [id, new Set([...links].sort(() => random() - 0.5))] as [string, Set<string>])
    )
    const a = new BroadcastTrees(graph)
    const b = new BroadcastTrees(shuffled)
    for (const origin of graph.keys())
      for (const node of graph.keys()) expect(b.parents(origin, node)).toEqual(a.parents(origin, node))
  })

  it('leaves a device the graph does not connect to the origin without a parent', () => {
    const graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['a'])],
      ['c', new Set<string>()]
    ])
    const trees = new BroadcastTrees(graph)
    expect(trees.parent('a', 'b')).toBe('a')
    expect(trees.parent('a', 'c')).toBeUndefined()
    expect(trees.reaches('a', 'c')).toBe(false)
    expect(trees.reaches('a', 'a')).toBe(true)
    expect(trees.reaches('x', 'x')).toBe(false)
  })
})
