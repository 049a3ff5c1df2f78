import { describe, expect, it } from 'vitest'
import { outdatedTimeout } from 'y-protocols/awareness'
import { decodeFrame, encodeFrame } from '../src/frames.ts'
import { PRESENCE_KEEP_MS, PRESENCE_RENEW_MS, Replica } from '../src/replica.ts'
import type { Frame } from '../src/frames.ts'

/**
 * Two replicas linked back to back on a clock of the test's own; counts the presence frames `a` sends. (y-protocols
 * keeps its own clock, `Date.now` as lib0 read it: the tests do what its 15 s interval does by hand.)
 */
function pair(): { a: Replica; b: Replica; sent: () => number; clock: { now: number }; up: { a: boolean } } {
  const clock = { now: 0 }
  const up = { a: true }
  let sent = 0
  const make = (self: 'a' | 'b'): Replica =>
    new Replica({
      room: 'presence-room',
      self,
      sign: () => new Uint8Array(64),
      verify: () => true,
      mayWrite: () => true,
      present: (origin) => origin !== 'a' || up.a,
      now: () => clock.now
    })
  const a = make('a')
  const b = make('b')
  const link = (from: 'a' | 'b', to: Replica): { peer: string; send: (frame: Frame) => void } => ({
    peer: from === 'a' ? 'b' : 'a',
    send: (frame) => {
      if (from === 'a' && frame.t === 'a') sent++
      void to.receive(from, decodeFrame(encodeFrame(frame)))
    }
  })
  a.attach(link('a', b))
  b.attach(link('b', a))
  return { a, b, sent: () => sent, clock, up }
}

/** What y-protocols' interval does every 15 s for a device with a presence: renews it, unchanged. */
function renew(replica: Replica): void {
  replica.awareness.setLocalState(replica.awareness.getLocalState())
}

describe('presence', () => {
  it('sends a change at once and an unchanged presence once a minute, not at every renewal', () => {
    const { a, b, sent: sentAll, clock } = pair()
    // (attaching sent what each knew: the empty presence y-protocols starts with)
    const before = sentAll()
    const sent = (): number => sentAll() - before
    a.awareness.setLocalState({ name: 'alice', cursor: 1 })
    a.awareness.setLocalState({ name: 'alice', cursor: 2 })
    expect(sent()).toBe(2)
    expect(b.awareness.getStates().get(a.awareness.clientID)).toEqual({ name: 'alice', cursor: 2 })
    // four minutes of renewals every 15 s: four go out, not sixteen
    for (let t = 15_000; t <= 4 * PRESENCE_RENEW_MS; t += 15_000) {
      clock.now = t
      renew(a)
    }
    expect(sent()).toBe(2 + 4)
    // a change goes out at once, however soon after a renewal
    clock.now += 1
    a.awareness.setLocalState({ name: 'alice', cursor: 3 })
    expect(sent()).toBe(7)
    expect(b.awareness.getStates().get(a.awareness.clientID)).toEqual({ name: 'alice', cursor: 3 })
    a.destroy()
    b.destroy()
  })

  it('keeps a presence alive between renewals while its device is up, and lets it time out otherwise', () => {
    const { a, b, clock, up } = pair()
    a.awareness.setLocalState({ name: 'alice' })
    const id = a.awareness.clientID
    const lastUpdated = (): number => b.awareness.meta.get(id)?.lastUpdated ?? Number.NaN
    // as if heard just over y-protocols' timeout ago: it would drop the state at its next check
    const stale = (): void => {
      const meta = b.awareness.meta.get(id)
      if (meta != null) meta.lastUpdated = Date.now() - outdatedTimeout - 1
    }
    stale()
    clock.now = PRESENCE_RENEW_MS
    b.keepPresence()
    expect(Date.now() - lastUpdated()).toBeLessThan(1_000)
    // a's device stops attesting (it crashed, say): b no longer keeps its presence alive
    up.a = false
    stale()
    b.keepPresence()
    expect(Date.now() - lastUpdated()).toBeGreaterThan(outdatedTimeout)
    // up, but silent past the keep time (its page froze): let go too, and forgotten
    up.a = true
    clock.now = PRESENCE_KEEP_MS + 1
    b.keepPresence()
    expect(Date.now() - lastUpdated()).toBeGreaterThan(outdatedTimeout)
    // heard again: kept again
    renew(a)
    clock.now += 1
    stale()
    b.keepPresence()
    expect(Date.now() - lastUpdated()).toBeLessThan(1_000)
    a.destroy()
    b.destroy()
  })
})
