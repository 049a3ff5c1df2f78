import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { SyncError } from '../src/errors.ts'
import {
  CHUNK_BYTES,
  MAX_AWARENESS_BYTES,
  MAX_FRAME_BYTES,
  MAX_UPDATE_BYTES,
  WANT_UPDATE,
  decodeFrame,
  encodeFrame
} from '../src/frames.ts'
import { Replica } from '../src/replica.ts'
import type { Frame } from '../src/frames.ts'
import type { ReplicaInit } from '../src/replica.ts'

const docName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/)
const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    t: fc.constant('sv' as const),
    d: docName,
    v: fc.uint8Array({ maxLength: 64 }),
    q: fc.integer({ min: 0, max: 3 })
  }),
  fc
    .record({
      t: fc.constant('s2' as const),
      d: docName,
      x: fc.nat(),
      b: fc.uint8Array({ maxLength: 256 }),
      o: fc.nat(1000),
      extra: fc.nat(1000)
    })
    .map(({ extra, ...f }) => ({ ...f, n: f.o + f.b.byteLength + extra })),
  fc.record({
    t: fc.constant('u' as const),
    d: docName,
    o: fc.string({ maxLength: 60 }),
    s: fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.constant(new Uint8Array(0))),
    b: fc.uint8Array({ maxLength: 256 })
  }),
  fc.record({
    t: fc.constant('a' as const),
    o: fc.string({ maxLength: 60 }),
    b: fc.uint8Array({ maxLength: 256 })
  })
)

function replica(init: Partial<ReplicaInit> = {}): Replica {
  return new Replica({
    room: 'r',
    self: 'me',
    sign: () => new Uint8Array(64),
    verify: () => true,
    mayWrite: () => true,
    ...init
  })
}

/** Attaches a link to each of `peers` that records what `r` sends it. */
function recordLinks(r: Replica, peers: string[]): Map<string, Frame[]> {
  const got = new Map<string, Frame[]>()
  for (const peer of peers) {
    got.set(peer, [])
    r.attach({ peer, send: (f) => got.get(peer)?.push(f) })
  }
  return got
}

/** Resolves once `r` has announced `count` status changes from now on (a signed push announces one once sent). */
async function statuses(r: Replica, count: number): Promise<void> {
  await new Promise<void>((resolve) => {
    let left = count
    const seen = (): void => {
      if (--left > 0) return
      r.removeEventListener('status', seen)
      resolve()
    }
    r.addEventListener('status', seen)
  })
}

/** An update frame by `author` holding one small edit. */
function updateBy(author: string): Frame {
  const source = new Y.Doc()
  source.getText('t').insert(0, 'x')
  return { t: 'u', d: 'notes', o: author, s: new Uint8Array(64), b: Y.encodeStateAsUpdate(source) }
}

describe('sync messages', () => {
  it('round-trips every well-formed message (property)', () => {
    fc.assert(
      fc.property(frame, (f) => {
        expect(decodeFrame(encodeFrame(f))).toEqual(f)
      }),
      { numRuns: 300 }
    )
  })

  it('refuses random bytes with a SyncError, never anything else (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          decodeFrame(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(SyncError)
        }
      }),
      { numRuns: 2000 }
    )
  })

  it('refuses mutated messages with a SyncError (fuzz)', () => {
    fc.assert(
      fc.property(frame, fc.nat(), fc.integer({ min: 0, max: 255 }), (f, at, value) => {
        const bytes = encodeFrame(f)
        bytes[at % bytes.byteLength] = value
        try {
          decodeFrame(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(SyncError)
        }
      }),
      { numRuns: 2000 }
    )
  })

  it('refuses oversized messages, bad names, bad numbers and strings, and chunks outside their transfer', () => {
    const code = (bytes: Uint8Array): string => {
      try {
        decodeFrame(bytes)
        return 'accepted'
      } catch (err) {
        return (err as SyncError).code
      }
    }
    const frameCode = (f: Frame): string => code(encodeFrame(f))
    const n = 0x6e // 'n'
    expect(code(new Uint8Array(MAX_FRAME_BYTES + 1))).toBe('TOO_LARGE')
    expect(
      frameCode({ t: 'u', d: 'n', o: 'x', s: new Uint8Array(64), b: new Uint8Array(MAX_UPDATE_BYTES + 1) })
    ).toBe('TOO_LARGE')
    expect(frameCode({ t: 'a', o: 'x', b: new Uint8Array(MAX_AWARENESS_BYTES + 1) })).toBe('TOO_LARGE')
    expect(frameCode({ t: 'sv', d: '../etc', v: new Uint8Array(0), q: 0 })).toBe('MALFORMED')
    expect(frameCode({ t: 'sv', d: 'n'.repeat(65), v: new Uint8Array(0), q: 0 })).toBe('MALFORMED')
    expect(frameCode({ t: 'sv', d: 'n', v: new Uint8Array(0), q: 4 })).toBe('MALFORMED')
    expect(frameCode({ t: 's2', d: 'n', x: 1, n: 10, o: 5, b: new Uint8Array(6) })).toBe('MALFORMED')
    expect(
      frameCode({ t: 's2', d: 'n', x: 1, n: CHUNK_BYTES * 2, o: 0, b: new Uint8Array(CHUNK_BYTES + 1) })
    ).toBe('MALFORMED')
    expect(frameCode({ t: 'u', d: 'n', o: 'x', s: new Uint8Array(32), b: new Uint8Array(1) })).toBe(
      'MALFORMED'
    )
    expect(
      frameCode({ t: 'u', d: 'n', o: 'x'.repeat(129), s: new Uint8Array(0), b: new Uint8Array(1) })
    ).toBe('MALFORMED')
    expect(frameCode({ t: 'u', d: 'n', o: 'x', s: new Uint8Array(0), b: new Uint8Array(1) })).toBe('accepted')
    // the bytes themselves: type, name length, name, then the fields
    expect(code(new Uint8Array([1, 1, n, 0]))).toBe('accepted')
    expect(code(new Uint8Array([9, 1, n, 0]))).toBe('MALFORMED')
    expect(code(new Uint8Array([]))).toBe('MALFORMED')
    // a number not in its shortest form, one past 2^53, one cut short
    expect(code(new Uint8Array([1, 1, n, 0x80, 0x00]))).toBe('MALFORMED')
    expect(code(new Uint8Array([1, 0x81, 0x00, n]))).toBe('MALFORMED')
    expect(code(new Uint8Array([2, 1, n, ...new Array<number>(8).fill(0xff), 0x01]))).toBe('MALFORMED')
    expect(code(new Uint8Array([2, 1, n, 0x80]))).toBe('MALFORMED')
    // a name that is not UTF-8, a lone surrogate, a name longer than its bytes
    expect(code(new Uint8Array([1, 2, 0xc3, 0x28, 0]))).toBe('MALFORMED')
    expect(code(new Uint8Array([4, 3, 0xed, 0xa0, 0x80]))).toBe('MALFORMED')
    expect(code(new Uint8Array([1, 5, n]))).toBe('MALFORMED')
    // a frame cut anywhere before its payload
    const whole = encodeFrame({
      t: 'u',
      d: 'notes',
      o: 'origin',
      s: new Uint8Array(64),
      b: new Uint8Array(0)
    })
    for (let cut = 0; cut < whole.byteLength; cut++) expect(code(whole.subarray(0, cut))).toBe('MALFORMED')
    expect(code(whole)).toBe('accepted')
  })

  it('a replica refuses garbage updates, vectors and catch-ups with a SyncError and keeps its document (fuzz)', async () => {
    const r = replica()
    r.doc('notes').getText('t').insert(0, 'kept')
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(2), async (bytes, kind) => {
        const f: Frame =
          kind === 0
            ? { t: 'u', d: 'notes', o: 'peer', s: new Uint8Array(64), b: bytes }
            : kind === 1
              ? { t: 's2', d: 'notes', x: 7, n: bytes.byteLength, o: 0, b: bytes }
              : { t: 'sv', d: 'notes', v: bytes, q: 0 }
        try {
          await r.receive('peer', f)
        } catch (err) {
          expect(err).toBeInstanceOf(SyncError)
        }
        expect(r.doc('notes').getText('t').toJSON()).toContain('kept')
      }),
      { numRuns: 500 }
    )
  })

  it('refuses an update whose origin may not write, or whose signature fails, before applying it', async () => {
    const refuse = new Replica({
      room: 'r',
      self: 'me',
      sign: () => new Uint8Array(64),
      verify: (o) => o === 'good',
      mayWrite: (o) => o !== 'removed'
    })
    const source = new Y.Doc()
    source.getText('t').insert(0, 'sneaky')
    const b = Y.encodeStateAsUpdate(source)
    await expect(
      refuse.receive('peer', { t: 'u', d: 'notes', o: 'removed', s: new Uint8Array(64), b })
    ).rejects.toMatchObject({ code: 'NOT_MEMBER' })
    await expect(
      refuse.receive('peer', { t: 'u', d: 'notes', o: 'forged', s: new Uint8Array(64), b })
    ).rejects.toMatchObject({ code: 'BAD_SIGNATURE' })
    expect(refuse.doc('notes').getText('t').toJSON()).toBe('')
    await refuse.receive('peer', { t: 'u', d: 'notes', o: 'good', s: new Uint8Array(64), b })
    expect(refuse.doc('notes').getText('t').toJSON()).toBe('sneaky')
  })

  it('refuses a document past the room limit with DOC_LIMIT', async () => {
    const small = new Replica({
      room: 'r',
      self: 'me',
      sign: () => new Uint8Array(64),
      verify: () => true,
      mayWrite: () => true,
      maxDocs: 2
    })
    small.doc('a')
    small.doc('b')
    await expect(
      small.receive('peer', { t: 'sv', d: 'c', v: Y.encodeStateVector(new Y.Doc()), q: 1 })
    ).rejects.toMatchObject({ code: 'DOC_LIMIT' })
  })

  it('applies an update straight from its author at once, and refuses its bad signature', async () => {
    const r = new Replica({
      room: 'r',
      self: 'me',
      sign: () => new Uint8Array(64),
      verify: () => false,
      mayWrite: () => true
    })
    const source = new Y.Doc()
    source.getText('t').insert(0, 'direct')
    const b = Y.encodeStateAsUpdate(source)
    await expect(
      r.receive('author', { t: 'u', d: 'notes', o: 'author', s: new Uint8Array(64), b })
    ).rejects.toMatchObject({ code: 'BAD_SIGNATURE' })
    expect(r.doc('notes').getText('t').toJSON()).toBe('direct')
  })

  it('passes a forwarded update on before checking it, applies it only if it verifies, and lets a forgery not shadow the real one', async () => {
    const r = new Replica({
      room: 'r',
      self: 'me',
      sign: () => new Uint8Array(64),
      verify: (_o, _m, s) => s[0] === 1,
      mayWrite: () => true
    })
    const forwarded: Frame[] = []
    r.attach({ peer: 'forwarder', send: () => undefined })
    r.attach({ peer: 'next', send: (f) => forwarded.push(f) })
    const source = new Y.Doc()
    source.getText('t').insert(0, 'real')
    const b = Y.encodeStateAsUpdate(source)
    const forged = { t: 'u', d: 'notes', o: 'author', s: new Uint8Array(64), b } as const
    await expect(r.receive('forwarder', forged)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' })
    expect(r.doc('notes').getText('t').toJSON()).toBe('')
    const signature = new Uint8Array(64)
    signature[0] = 1
    await r.receive('forwarder', { ...forged, s: signature })
    expect(r.doc('notes').getText('t').toJSON()).toBe('real')
    expect(forwarded.filter((f) => f.t === 'u')).toHaveLength(2)
  })

  it('sends an edit unsigned and at once when linked to every device that may get it, signed otherwise', async () => {
    let direct = true
    let signed = 0
    const r = replica({
      direct: () => direct,
      sign: () => {
        signed++
        return new Uint8Array(64).fill(1)
      }
    })
    const sent: Frame[] = []
    r.attach({ peer: 'peer', send: (f) => sent.push(f) })
    const doc = await r.ready('notes')
    doc.getText('t').insert(0, 'a')
    // sent in the edit's own turn, with no signature and no signing
    expect(sent.filter((f) => f.t === 'u').map((f) => (f.t === 'u' ? f.s.byteLength : -1))).toEqual([0])
    direct = false
    const pushed = statuses(r, 1)
    doc.getText('t').insert(1, 'b')
    await pushed
    expect(sent.filter((f) => f.t === 'u').map((f) => (f.t === 'u' ? f.s.byteLength : -1))).toEqual([0, 64])
    expect(signed).toBe(1)
  })

  it('keeps pushes in order when an unsigned one follows a signed one still being signed', async () => {
    let direct = false
    // each signature is handed out when the test says; `signing()` resolves with the next one asked for
    const asked: Array<() => void> = []
    let onAsk: (() => void) | undefined
    const r = replica({
      direct: () => direct,
      sign: async () =>
        new Promise<Uint8Array>((resolve) => {
          asked.push(() => resolve(new Uint8Array(64).fill(1)))
          onAsk?.()
        })
    })
    const signing = async (): Promise<() => void> => {
      if (asked.length === 0) await new Promise<void>((resolve) => (onAsk = resolve))
      return asked.shift() as () => void
    }
    const sent: Frame[] = []
    r.attach({ peer: 'peer', send: (f) => sent.push(f) })
    const doc = await r.ready('notes')
    doc.getText('t').insert(0, 'a')
    direct = true
    doc.getText('t').insert(1, 'b')
    const updates = (): Frame[] => sent.filter((f) => f.t === 'u')
    const first = await signing()
    // the unsigned one waits behind the one being signed
    expect(updates()).toHaveLength(0)
    const pushed = statuses(r, 2)
    first()
    ;(await signing())()
    await pushed
    const remote = new Y.Doc()
    // applied in the order they went out, neither waits in Yjs for the other
    Y.applyUpdate(remote, (updates()[0] as Frame & { t: 'u' }).b)
    expect(remote.getText('t').toJSON()).toBe('a')
    Y.applyUpdate(remote, (updates()[1] as Frame & { t: 'u' }).b)
    expect(remote.getText('t').toJSON()).toBe('ab')
  })

  it('applies an unsigned update straight from its author, forwards it nowhere, and refuses one relayed by another', async () => {
    const r = replica({ verify: () => false })
    const got = recordLinks(r, ['author', 'relay', 'far'])
    const source = new Y.Doc()
    source.getText('t').insert(0, 'direct')
    const unsigned = {
      t: 'u',
      d: 'notes',
      o: 'author',
      s: new Uint8Array(0),
      b: Y.encodeStateAsUpdate(source)
    } as const
    await r.receive('author', unsigned)
    expect(r.doc('notes').getText('t').toJSON()).toBe('direct')
    expect([...got.values()].flat().filter((f) => f.t === 'u')).toHaveLength(0)
    source.getText('t').insert(0, 'relayed ')
    await expect(r.receive('relay', { ...unsigned, b: Y.encodeStateAsUpdate(source) })).rejects.toMatchObject(
      { code: 'BAD_SIGNATURE' }
    )
    expect(r.doc('notes').getText('t').toJSON()).toBe('direct')
    const strict = replica({ mayWrite: (o) => o !== 'removed' })
    await expect(strict.receive('removed', { ...unsigned, o: 'removed' })).rejects.toMatchObject({
      code: 'NOT_MEMBER'
    })
  })

  it("announces a local edit's status once its frame is on every link, not before", async () => {
    const r = replica()
    const sent: Frame[] = []
    r.attach({ peer: 'peer', send: (f) => sent.push(f) })
    const updatesAtStatus = new Promise<number>((resolve) => {
      r.addEventListener('status', () => resolve(sent.filter((f) => f.t === 'u').length), { once: true })
    })
    const doc = await r.ready('notes')
    doc.getText('t').insert(0, 'mine')
    expect(await updatesAtStatus).toBe(1)
  })

  it("counts only this device's changes as unconfirmed, until a peer's state vector covers them", async () => {
    const r = replica()
    const sent: Frame[] = []
    r.attach({ peer: 'peer', send: (f) => sent.push(f) })
    const remote = new Y.Doc()
    remote.getText('t').insert(0, 'theirs')
    await r.receive('peer', {
      t: 'u',
      d: 'notes',
      o: 'peer',
      s: new Uint8Array(64),
      b: Y.encodeStateAsUpdate(remote)
    })
    expect(r.unconfirmed()).toBe(0)
    r.doc('notes').getText('t').insert(0, 'mine')
    expect(r.unconfirmed()).toBe(4)
    await r.receive('peer', { t: 'sv', d: 'notes', v: Y.encodeStateVector(r.doc('notes')), q: 0 })
    expect(r.unconfirmed()).toBe(0)
  })

  it('forwards an update neither back to its author nor to peers its author is linked to', async () => {
    const r = replica({ linked: (origin, peer) => origin === 'author' && peer === 'linked' })
    const got = recordLinks(r, ['author', 'linked', 'far', 'via'])
    await r.receive('via', updateBy('author'))
    const updates = (peer: string): number => got.get(peer)?.filter((f) => f.t === 'u').length ?? 0
    expect([updates('author'), updates('linked'), updates('via'), updates('far')]).toEqual([0, 0, 0, 1])
  })

  it('forwards an update it got from a forwarder only to peers it is a tree parent of', async () => {
    // `child` gets author's updates through me; `cousin` through someone else
    const r = replica({
      linked: (origin, peer, from) => origin === 'author' && from === 'via' && peer === 'cousin'
    })
    const got = recordLinks(r, ['via', 'child', 'cousin'])
    await r.receive('via', updateBy('author'))
    const updates = (peer: string): number => got.get(peer)?.filter((f) => f.t === 'u').length ?? 0
    expect([updates('via'), updates('child'), updates('cousin')]).toEqual([0, 1, 0])
  })

  it('asks every link for what it lacks when a pushed update waits on one that never came', async () => {
    let now = 0
    const r = replica({ now: () => now })
    const got = recordLinks(r, ['a', 'b'])
    const source = new Y.Doc()
    const text = source.getText('t')
    const pushes: Uint8Array[] = []
    source.on('update', (update: Uint8Array) => pushes.push(update))
    text.insert(0, 'first')
    text.insert(5, ' second')
    const push = async (b: Uint8Array): Promise<void> =>
      r.receive('a', { t: 'u', d: 'notes', o: 'author', s: new Uint8Array(64), b })
    // the second edit arrives; the first was lost on the way
    await push(pushes[1] as Uint8Array)
    expect(r.doc('notes').getText('t').toJSON()).toBe('')
    const asks = (peer: string): number =>
      got.get(peer)?.filter((f) => f.t === 'sv' && (f.q & WANT_UPDATE) !== 0).length ?? 0
    const before = [asks('a'), asks('b')]
    now = 100
    r.confirm()
    expect([asks('a'), asks('b')]).toEqual(before)
    now = 400
    r.confirm()
    expect([asks('a'), asks('b')]).toEqual([(before[0] ?? 0) + 1, (before[1] ?? 0) + 1])
    // once the gap is filled, no more asking
    await push(pushes[0] as Uint8Array)
    expect(r.doc('notes').getText('t').toJSON()).toBe('first second')
    now = 2_000
    r.confirm()
    expect([asks('a'), asks('b')]).toEqual([(before[0] ?? 0) + 1, (before[1] ?? 0) + 1])
  })
})
