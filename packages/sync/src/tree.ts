/**
 * Broadcast trees over a room's link graph. An update from `origin` travels down the breadth-first tree rooted at
 * `origin`, over shortest paths, and each device also gets it from a second parent where it has one, so one link
 * that dropped (before the attestations say so) costs nobody the update: an edit costs at most 2 (n − 1) messages
 * however many links the mesh has. Every device computes the same parents from the same graph: a device's first
 * parent is its lowest-id neighbour one hop nearer the origin; its second, the next such neighbour by id, else its
 * lowest-id neighbour as far from the origin as itself.
 */
export class BroadcastTrees {
  private readonly trees = new Map<string, Map<string, string[]>>()

  /** `graph` must be symmetric: `b` in `a`'s set exactly when `a` is in `b`'s. */
  constructor(private readonly graph: ReadonlyMap<string, ReadonlySet<string>>) {}

  /** The devices `node` gets `origin`'s updates from (one or two), or none if the graph does not connect them. */
  parents(origin: string, node: string): readonly string[] {
    let tree = this.trees.get(origin)
    if (tree == null) {
      tree = this.build(origin)
      this.trees.set(origin, tree)
    }
    return tree.get(node) ?? []
  }

  /** `node`'s first parent: its lowest-id neighbour one hop nearer `origin`. */
  parent(origin: string, node: string): string | undefined {
    return this.parents(origin, node)[0]
  }

  /** Whether the graph connects `node` to `origin` (the origin itself included). */
  reaches(origin: string, node: string): boolean {
    return origin === node ? this.graph.has(origin) : this.parent(origin, node) != null
  }

  private build(origin: string): Map<string, string[]> {
    const depth = new Map<string, number>([[origin, 0]])
    const queue = [origin]
    for (let i = 0; i < queue.length; i++) {
      const node = queue[i] as string
      const next = (depth.get(node) as number) + 1
      for (const neighbour of this.graph.get(node) ?? []) {
        if (depth.has(neighbour)) continue
        depth.set(neighbour, next)
        queue.push(neighbour)
      }
    }
    const parents = new Map<string, string[]>()
    for (const [node, d] of depth) {
      if (d === 0) continue
      // in a breadth-first tree a neighbour is one hop nearer, as far, or one hop farther
      const nearer: string[] = []
      const level: string[] = []
      for (const neighbour of this.graph.get(node) ?? []) {
        const at = depth.get(neighbour) as number
        if (at < d) nearer.push(neighbour)
        else if (at === d) level.push(neighbour)
      }
      nearer.sort()
      level.sort()
      parents.set(node, [...nearer, ...level].slice(0, 2))
    }
    return parents
  }
}
