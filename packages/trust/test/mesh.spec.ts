import { describe, expect, it } from 'vitest'
import { meshGraph, meshNeighbours, meshTargets } from '../src/rooms.ts'

function graph(room: string, devices: string[], degree: number, fullMesh?: number): Map<string, Set<string>> {
  const edges = new Map(devices.map((d) => [d, new Set<string>()]))
  for (const me of devices) {
    for (const target of meshTargets(room, me, devices, { degree, fullMesh })) {
      edges.get(me)?.add(target)
      edges.get(target)?.add(me)
    }
  }
  return edges
}

/** The longest shortest path, or Infinity if the graph is not connected. */
function diameter(edges: Map<string, Set<string>>): number {
  let worst = 0
  for (const start of edges.keys()) {
    const depth = new Map([[start, 0]])
    const queue = [start]
    for (let node = queue.shift(); node != null; node = queue.shift()) {
      for (const next of edges.get(node) ?? []) {
        if (depth.has(next)) continue
        depth.set(next, (depth.get(node) ?? 0) + 1)
        queue.push(next)
      }
    }
    if (depth.size < edges.size) return Infinity
    worst = Math.max(worst, ...depth.values())
  }
  return worst
}

describe('the room mesh', () => {
  it('is a full mesh up to the degree, and past it a connected graph of bounded degree and small diameter', () => {
    for (let n = 2; n <= 48; n++) {
      const devices = Array.from({ length: n }, (_, i) => `device-${i}`)
      const edges = graph(`room-${n}`, devices, 4)
      const degrees = [...edges.values()].map((e) => e.size)
      if (n <= 5) {
        expect(Math.min(...degrees)).toBe(n - 1)
        continue
      }
      expect(diameter(edges)).toBeLessThanOrEqual(Math.ceil(Math.sqrt(n)) + 2)
      // each device dials two; the average link count stays about four however large the room
      expect(degrees.reduce((a, b) => a + b, 0) / n).toBeLessThanOrEqual(4)
      // a successor, a predecessor, its own chord and at most three chords that land on it
      expect(Math.max(...degrees)).toBeLessThanOrEqual(6)
    }
  })

  it('moves few links when a device joins: chords are placed by hash, not by count', () => {
    // each join is a WebRTC connection per new link at both ends: the newcomer's own four or so are unavoidable, the
    // links it makes the others open are not (with chords at a count of √n devices a join moved √n of them, and every
    // chord when round(√n) stepped: 6.8 a join on average up to 64 devices, 48 at once)
    let moved = 0
    let worst = 0
    let joins = 0
    for (let r = 0; r < 20; r++) {
      let before = new Map<string, Set<string>>()
      for (let n = 1; n <= 64; n++) {
        const devices = Array.from({ length: n }, (_, i) => `device-${r}-${i}`)
        const newcomer = devices[n - 1] as string
        const edges = graph(`room-${r}`, devices, 4, 7)
        let added = 0
        for (const [a, links] of edges) {
          for (const b of links)
            if (a < b && a !== newcomer && b !== newcomer && before.get(a)?.has(b) !== true) added++
        }
        if (n > 9) {
          moved += added
          worst = Math.max(worst, added)
          joins++
        }
        before = edges
      }
    }
    expect(moved / joins).toBeLessThan(2.5)
    expect(worst).toBeLessThanOrEqual(24)
  })

  it('is a full mesh up to fullMesh other devices, then the same partial mesh as its degree alone gives', () => {
    for (let n = 2; n <= 24; n++) {
      const devices = Array.from({ length: n }, (_, i) => `device-${i}`)
      const edges = graph(`room-${n}`, devices, 4, 7)
      const degrees = [...edges.values()].map((e) => e.size)
      if (n <= 8) {
        expect(Math.min(...degrees)).toBe(n - 1)
        continue
      }
      expect(edges).toEqual(graph(`room-${n}`, devices, 4))
      expect(meshGraph(`room-${n}`, devices, { degree: 4, fullMesh: 7 })).toEqual(edges)
    }
    // never below the degree
    const six = Array.from({ length: 6 }, (_, i) => `device-${i}`)
    expect(graph('room', six, 6, 2)).toEqual(graph('room', six, 6))
  })

  it('skips a device that was just unreachable and still reaches the others', () => {
    const devices = Array.from({ length: 20 }, (_, i) => `device-${i}`)
    const down = new Set(['device-3', 'device-7', 'device-11'])
    const live = devices.filter((d) => !down.has(d))
    const edges = new Map(live.map((d) => [d, new Set<string>()]))
    for (const me of live) {
      for (const target of meshTargets('room', me, devices, { degree: 4, unreachable: (d) => down.has(d) })) {
        expect(down.has(target)).toBe(false)
        edges.get(me)?.add(target)
        edges.get(target)?.add(me)
      }
    }
    expect(diameter(edges)).toBeLessThan(Infinity)
  })

  it('gives two devices the same answer to whether they are neighbours: the graph the dials make', () => {
    for (let n = 2; n <= 48; n++) {
      const devices = Array.from({ length: n }, (_, i) => `device-${i}`)
      const room = `room-${n}`
      const dialled = graph(room, devices, 4)
      for (const me of devices) {
        const mine = new Set(meshNeighbours(room, me, devices, { degree: 4 }))
        expect(mine).toEqual(dialled.get(me))
        for (const other of mine) expect(meshNeighbours(room, other, devices, { degree: 4 })).toContain(me)
        for (const target of meshTargets(room, me, devices, { degree: 4 })) expect(mine).toContain(target)
      }
    }
  })

  it('keeps whom a device dials instead of an unreachable one among its neighbours', () => {
    const devices = Array.from({ length: 20 }, (_, i) => `device-${i}`)
    const me = 'device-0'
    const [down] = meshTargets('room', me, devices, { degree: 4 })
    const unreachable = (d: string): boolean => d === down
    const instead = meshTargets('room', me, devices, { degree: 4, unreachable })
    const neighbours = meshNeighbours('room', me, devices, { degree: 4, unreachable })
    for (const target of instead) expect(neighbours).toContain(target)
  })

  it("builds the whole room's graph in one pass: each device's neighbours as meshNeighbours gives them", () => {
    for (const degree of [2, 4, 6]) {
      for (let n = 2; n <= 40; n += 3) {
        const devices = Array.from({ length: n }, (_, i) => `device-${i}`)
        const whole = meshGraph(`room-${n}`, devices, { degree })
        expect([...whole.keys()].sort()).toEqual([...devices].sort())
        for (const me of devices) {
          expect([...(whole.get(me) ?? [])].sort()).toEqual(
            meshNeighbours(`room-${n}`, me, devices, { degree }).sort()
          )
        }
      }
    }
  })

  it('keeps the graph until the devices change, whatever order they come in', () => {
    const devices = Array.from({ length: 12 }, (_, i) => `device-${i}`)
    const first = meshGraph('room', devices, { degree: 4 })
    expect(meshGraph('room', [...devices].reverse(), { degree: 4 })).toBe(first)
    const grown = meshGraph('room', [...devices, 'device-new'], { degree: 4 })
    expect(grown).not.toBe(first)
    expect(grown.has('device-new')).toBe(true)
    expect(meshGraph('room', devices, { degree: 6 })).not.toBe(first)
  })

  it('gives the same answer whether or not the device list names the device asking', () => {
    for (let n = 3; n <= 30; n += 3) {
      const devices = Array.from({ length: n }, (_, i) => `device-${i}`)
      for (const me of devices) {
        const others = devices.filter((d) => d !== me)
        expect(meshNeighbours('room', me, others, { degree: 4 }).sort()).toEqual(
          meshNeighbours('room', me, devices, { degree: 4 }).sort()
        )
        expect(meshTargets('room', me, others, { degree: 4 })).toEqual(
          meshTargets('room', me, devices, { degree: 4 })
        )
      }
    }
  })
})
