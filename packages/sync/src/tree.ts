/**
 * Broadcast trees over a room's link graph. An update from `origin` travels down the breadth-first tree rooted at
 * `origin`: each device gets it once, over a shortest path, so an edit costs n − 1 messages however many links the
 * mesh has. Every device computes the same trees from the same graph: a device's parent is its lowest-id
 * neighbour one hop nearer the origin.
 */
export class BroadcastTrees {
  private readonly parents = new Map<string, Map<string, string>>()

  /** `graph` must be symmetric: `b` in `a`'s set exactly when `a` is in `b`'s. */
  constructor(private readonly graph: ReadonlyMap<string, ReadonlySet<string>>) {}

  /** The device `node` gets `origin`'s updates from, or `undefined` if the graph does not connect the two. */
  parent(origin: string, node: string): string | undefined {
    let tree = this.parents.get(origin)
    if (tree == null) {
      tree = this.build(origin)
      this.parents.set(origin, tree)
    }
    return tree.get(node)
  }

  /** Whether the graph connects `node` to `origin` (the origin itself included). */
  reaches(origin: string, node: string): boolean {
    return origin === node ? this.graph.has(origin) : this.parent(origin, node) != null
  }

  private build(origin: string): Map<string, string> {
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
    const parents = new Map<string, string>()
    for (const [node, d] of depth) {
      if (d === 0) continue
      let parent: string | undefined
      for (const neighbour of this.graph.get(node) ?? []) {
        if (depth.get(neighbour) === d - 1 && (parent == null || neighbour < parent)) parent = neighbour
      }
      if (parent != null) parents.set(node, parent)
    }
    return parents
  }
}
