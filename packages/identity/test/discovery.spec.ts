import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  addDevice,
  createClaim,
  createIdentity,
  createStatement,
  discoveryHash,
  discoveryKey,
  discoveryNamespace,
  DISCOVERY_CLAIM_TYPE,
  encode,
  encodeClaimRecord,
  InvalidClaimError,
  MAX_CLAIMANTS,
  mergeClaimRecords,
  normalizeIdentifier,
  readClaim,
  readClaimRecord,
  statementToBytes
} from '../src/index.ts'
import type { DiscoveryClaim, Identity } from '../src/index.ts'

const DAY = 24 * 60 * 60 * 1000
const NOW = 1_800_000_000_000

let alice: Identity
let aliceLaptop: Identity
let mallory: Identity
let hash: Uint8Array
let key: Uint8Array

beforeAll(async () => {
  alice = await createIdentity({ deviceName: 'phone' })
  aliceLaptop = await addDevice(alice, { deviceName: 'laptop' })
  mallory = await createIdentity({ deviceName: 'evil' })
  hash = await discoveryHash('alice@example.com')
  key = discoveryKey(hash)
})

const claim = (who: Identity, options: Parameters<typeof createClaim>[2] = {}): DiscoveryClaim =>
  readClaim(createClaim(who, hash, { now: NOW, ...options }), hash, { now: NOW, allowExpired: true })
const record = (...claims: DiscoveryClaim[]): Uint8Array => encodeClaimRecord(claims)
const users = (value: Uint8Array, now = NOW): string[] =>
  readClaimRecord(key, value, { now }).map((c) => c.userId)

describe('discovery hashes', () => {
  it('should normalize an identifier so case, width and spaces do not matter', async () => {
    expect(normalizeIdentifier('  Alice@Example.COM ')).toBe('alice@example.com')
    expect(normalizeIdentifier('ａｌｉｃｅ@example.com')).toBe('alice@example.com')
    expect(await discoveryHash(' ALICE@example.com')).toEqual(hash)
  })

  it('should salt the hash with the app id, so one table does not serve two apps', async () => {
    expect(await discoveryHash('alice@example.com', 'notes')).not.toEqual(hash)
  })

  it('should refuse empty and oversized identifiers', async () => {
    await expect(discoveryHash('   ')).rejects.toMatchObject({ name: 'InvalidParametersError' })
    await expect(discoveryHash(`${'a'.repeat(321)}`)).rejects.toMatchObject({
      name: 'InvalidParametersError'
    })
  })
})

describe('discovery claims', () => {
  it('should read back what the root key claimed, with every listed device', () => {
    const read = claim(alice, { devices: [alice.certificate, aliceLaptop.certificate], seq: 7 })
    expect(read.user).toEqual(alice.user)
    expect(read.seq).toBe(7)
    expect(read.devices.map((d) => d.deviceId.toString())).toEqual([
      alice.deviceId.toString(),
      aliceLaptop.deviceId.toString()
    ])
    expect(read.expiresAt).toBe(NOW + 7 * DAY)
  })

  it('should refuse to claim from a device without the root key', () => {
    const { rootSecret: _, ...withoutRoot } = aliceLaptop
    expect(() => createClaim(withoutRoot, hash)).toThrow(/root key/)
  })

  it('forged authorship: a claim naming Alice but signed by Mallory is invalid', () => {
    const forged = statementToBytes(
      createStatement(mallory.rootSecret!, DISCOVERY_CLAIM_TYPE, {
        id: hash,
        user: alice.user,
        devices: [statementToBytes(alice.certificate)],
        seq: 1,
        exp: NOW + DAY
      })
    )
    expect(() => readClaim(forged, hash, { now: NOW })).toThrow(InvalidClaimError)
  })

  it('a device not on the user chain: Mallory cannot list Alice device as hers, nor hers as Alice', () => {
    expect(() => createClaim(mallory, hash, { devices: [alice.certificate], now: NOW })).toThrow(
      /another user/
    )
  })

  it('should refuse a claim for another identifier, an expired one, and one that lives too long', async () => {
    const other = await discoveryHash('bob@example.com')
    const bytes = createClaim(alice, hash, { now: NOW })
    expect(() => readClaim(bytes, other, { now: NOW })).toThrow(/another identifier/)
    expect(() => readClaim(bytes, hash, { now: NOW + 8 * DAY })).toThrow(/expired/)
    expect(() => createClaim(alice, hash, { now: NOW, ttlMs: 31 * DAY })).toThrow(/ttlMs/)
  })

  it('should refuse every byte-flipped variant of a valid claim (fuzz)', () => {
    const bytes = createClaim(alice, hash, { now: NOW })
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const copy = bytes.slice()
        copy[at]! ^= flip
        expect(() => readClaim(copy, hash, { now: NOW })).toThrow(InvalidClaimError)
      }),
      { numRuns: 300 }
    )
  })

  it('should refuse random bytes as a record with InvalidClaimError and nothing else (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        expect(() => readClaimRecord(key, bytes, { now: NOW })).toThrow(InvalidClaimError)
      }),
      { numRuns: 300 }
    )
  })

  it('should refuse an oversized record before decoding it', () => {
    expect(() => readClaimRecord(key, new Uint8Array(200 * 1024), { now: NOW })).toThrow(/more than/)
  })

  it('should refuse a record that lists one user twice, or out of order', () => {
    const a = claim(alice)
    const twice = encode({ v: 1, c: [a.bytes, a.bytes] })
    expect(() => readClaimRecord(key, twice, { now: NOW })).toThrow(/ordered by user/)
  })

  it('should refuse a record under a key that is not a canonical discovery key', () => {
    const value = record(claim(alice))
    expect(() => readClaimRecord(new TextEncoder().encode('/kith-claim/abc'), value)).toThrow(
      InvalidClaimError
    )
    expect(() => readClaimRecord(new TextEncoder().encode('/pk/abc'), value)).toThrow(InvalidClaimError)
  })
})

describe('discovery records on a DHT server', () => {
  it('DHT squatting: a squatter claim merged in never removes the real user claim', () => {
    const stored = record(claim(alice))
    const merged = mergeClaimRecords(key, stored, record(claim(mallory)), NOW)
    expect(users(merged).sort()).toEqual([alice, mallory].map((i) => claim(i).userId).sort())
  })

  it('older seq never replaces newer: a replayed claim cannot roll a user back', () => {
    const newer = record(claim(alice, { seq: 20, devices: [alice.certificate, aliceLaptop.certificate] }))
    const older = record(claim(alice, { seq: 10 }))
    const merged = mergeClaimRecords(key, newer, older, NOW)
    expect(readClaimRecord(key, merged, { now: NOW })[0]!.seq).toBe(20)
    const renewed = mergeClaimRecords(key, older, newer, NOW)
    expect(readClaimRecord(key, renewed, { now: NOW })[0]!.devices).toHaveLength(2)
  })

  it('should drop expired claims when merging', () => {
    const stored = record(claim(alice, { ttlMs: DAY }))
    const merged = mergeClaimRecords(key, stored, record(claim(mallory, { ttlMs: 3 * DAY })), NOW + 2 * DAY)
    expect(users(merged, NOW + 2 * DAY)).toEqual([claim(mallory).userId])
  })

  it('a Sybil flood cannot push out claims already held: past the cap, new users are refused', async () => {
    const sybils = await Promise.all(Array.from({ length: MAX_CLAIMANTS }, async () => createIdentity()))
    let stored = record(claim(alice))
    for (const sybil of sybils) stored = mergeClaimRecords(key, stored, record(claim(sybil)), NOW)
    const held = users(stored)
    expect(held).toHaveLength(MAX_CLAIMANTS)
    expect(held).toContain(claim(alice).userId)
  })

  it('should merge to the same record in any order (property)', async () => {
    const people = [alice, mallory, ...(await Promise.all([0, 1, 2].map(async () => createIdentity())))]
    const claims = people.flatMap((p) => [claim(p, { seq: 1 }), claim(p, { seq: 2 })])
    fc.assert(
      fc.property(fc.shuffledSubarray(claims, { minLength: 1 }), (order) => {
        let stored = record(order[0]!)
        for (const c of order.slice(1)) stored = mergeClaimRecords(key, stored, record(c), NOW)
        const seqs = new Map(order.map((c) => [c.userId, 0]))
        for (const c of order) seqs.set(c.userId, Math.max(seqs.get(c.userId)!, c.seq))
        expect(new Map(readClaimRecord(key, stored, { now: NOW }).map((c) => [c.userId, c.seq]))).toEqual(
          seqs
        )
      }),
      { numRuns: 50 }
    )
  })

  it('should give kad-dht a validator that refuses forgeries and a selector that prefers more live claims', () => {
    const rules = discoveryNamespace(() => NOW)
    const one = record(claim(alice))
    const two = mergeClaimRecords(key, one, record(claim(mallory)), NOW)
    expect(() => rules.validate(key, one)).not.toThrow()
    const tampered = two.slice()
    tampered[tampered.length - 3]! ^= 1
    expect(() => rules.validate(key, tampered)).toThrow(InvalidClaimError)
    expect(rules.select(key, [one, two, tampered])).toBe(1)
  })
})
