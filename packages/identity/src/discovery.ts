import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { compare } from 'uint8arrays/compare'
import { equals } from 'uint8arrays/equals'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { readDeviceCertificate } from './certificates.ts'
import {
  CLOCK_SKEW_MS,
  DEFAULT_CLAIM_TTL_MS,
  DISCOVERY_CLAIM_TYPE,
  DISCOVERY_NAMESPACE,
  DISCOVERY_SCRYPT,
  MAX_CLAIMANTS,
  MAX_CLAIM_BYTES,
  MAX_CLAIM_DEVICES,
  MAX_CLAIM_RECORD_BYTES,
  MAX_CLAIM_TTL_MS,
  MAX_IDENTIFIER_LENGTH,
  VERSION
} from './constants.ts'
import { decode, encode, read } from './encoding.ts'
import { DiscoveryError, InvalidClaimError, InvalidParametersError } from './errors.ts'
import { userIdFromRoot } from './identity.ts'
import {
  checkSignature,
  createStatement,
  payloadOf,
  statementFromBytes,
  statementToBytes
} from './statement.ts'
import type { Identity, UserId } from './identity.ts'
import type { Statement } from './statement.ts'
import type { PeerId } from '@libp2p/interface'

/** One device a claim lists, with the root-signed certificate it was read from. */
export interface ClaimDevice {
  deviceId: PeerId
  name: string
  certificate: Statement
}

/**
 * A user's signed claim to an identifier: "the user with this root key answers to this identifier, on these
 * devices". Signed by the root key itself, so only the user can make or renew it. It proves that the user made the
 * claim, not that the identifier is theirs: anyone can claim any email address. Treat a lookup result as a hint
 * until a person verifies it (safety number or SAS).
 */
export interface DiscoveryClaim {
  user: Uint8Array
  userId: UserId
  devices: ClaimDevice[]
  /** Orders one user's claims: a server never replaces a claim with one of a lower `seq`. */
  seq: number
  expiresAt: number
  /** The signed claim as published. */
  bytes: Uint8Array
}

/** NFKC, trimmed, lower case: `' Alice@Example.COM '` and `'alice@example.com'` are one identifier. */
export function normalizeIdentifier(identifier: string): string {
  if (typeof identifier !== 'string') throw new InvalidParametersError('an identifier is a string')
  const normalized = identifier.normalize('NFKC').trim().toLowerCase()
  if (normalized.length === 0) throw new InvalidParametersError('the identifier is empty')
  if (normalized.length > MAX_IDENTIFIER_LENGTH) {
    throw new InvalidParametersError(`an identifier has at most ${MAX_IDENTIFIER_LENGTH} characters`)
  }
  return normalized
}

/**
 * The identifier's 32-byte discovery hash: scrypt (memory-hard, {@link DISCOVERY_SCRYPT}) of the normalized
 * identifier, salted with the app id so two apps' records never collide and a table built for one app is useless
 * for another. Slow on purpose: it is what a person guessing identifiers pays per guess.
 */
export async function discoveryHash(identifier: string, appId = 'kith'): Promise<Uint8Array> {
  const normalized = normalizeIdentifier(identifier)
  return scryptAsync(normalized, `kith/discovery/v${VERSION}/${appId}`, {
    ...DISCOVERY_SCRYPT,
    dkLen: 32,
    maxmem: 2 ** 26
  })
}

/** The DHT key of an identifier's record: `/kith-claim/<base32 of its hash>`. */
export function discoveryKey(hash: Uint8Array): Uint8Array {
  if (!(hash instanceof Uint8Array) || hash.byteLength !== 32) {
    throw new InvalidParametersError('a discovery hash has 32 bytes')
  }
  return fromString(`/${DISCOVERY_NAMESPACE}/${toString(hash, 'base32')}`)
}

function hashFromKey(key: Uint8Array): Uint8Array {
  const text = toString(key)
  const prefix = `/${DISCOVERY_NAMESPACE}/`
  if (!text.startsWith(prefix)) throw new InvalidClaimError(`not a ${DISCOVERY_NAMESPACE} key`)
  let hash: Uint8Array
  try {
    hash = fromString(text.slice(prefix.length), 'base32')
  } catch (err: unknown) {
    throw new InvalidClaimError('the key does not end in base32', { cause: err })
  }
  if (hash.byteLength !== 32 || !equals(discoveryKey(hash), key)) {
    throw new InvalidClaimError('the key does not name a 32-byte hash in canonical base32')
  }
  return hash
}

export interface CreateClaimOptions {
  /** @default Date.now(), so a later claim from any of the user's devices outranks an earlier one */
  seq?: number
  /** @default 7 days; at most 30 */
  ttlMs?: number
  /** Device certificates to list. @default this device's */
  devices?: Statement[]
  now?: number
}

/** The user (through a device holding the root key) claims the identifier with this hash. */
export function createClaim(
  identity: Identity,
  hash: Uint8Array,
  options: CreateClaimOptions = {}
): Uint8Array {
  return signClaim(identity, hash, options).bytes
}

/** Makes the claim and reads it back as others will, so a bad device list fails at its author. */
function signClaim(identity: Identity, hash: Uint8Array, options: CreateClaimOptions): DiscoveryClaim {
  if (identity.rootSecret == null) {
    throw new InvalidParametersError('only a device holding the root key can claim an identifier')
  }
  discoveryKey(hash)
  const now = options.now ?? Date.now()
  const ttlMs = options.ttlMs ?? DEFAULT_CLAIM_TTL_MS
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_CLAIM_TTL_MS) {
    throw new InvalidParametersError(`ttlMs must be a positive integer of at most ${MAX_CLAIM_TTL_MS}`)
  }
  const seq = options.seq ?? now
  if (!Number.isSafeInteger(seq) || seq < 0)
    throw new InvalidParametersError('seq must be a non-negative integer')
  const devices = options.devices ?? [identity.certificate]
  if (devices.length === 0 || devices.length > MAX_CLAIM_DEVICES) {
    throw new InvalidParametersError(`a claim lists 1 to ${MAX_CLAIM_DEVICES} devices`)
  }
  const bytes = statementToBytes(
    createStatement(identity.rootSecret, DISCOVERY_CLAIM_TYPE, {
      id: hash,
      user: identity.user,
      devices: devices.map(statementToBytes),
      seq,
      exp: now + ttlMs
    })
  )
  return readClaim(bytes, hash, { now })
}

export interface ReadClaimOptions {
  now?: number
  /** Read a claim past its expiry too (servers holding a record do; people looking up never). @default false */
  allowExpired?: boolean
}

/** Checks one claim completely for the identifier with this hash; throws `InvalidClaimError` saying why not. */
export function readClaim(
  bytes: Uint8Array,
  hash: Uint8Array,
  options: ReadClaimOptions = {}
): DiscoveryClaim {
  const now = options.now ?? Date.now()
  try {
    const statement = statementFromBytes(bytes, MAX_CLAIM_BYTES)
    if (statement.t !== DISCOVERY_CLAIM_TYPE) {
      throw new InvalidClaimError(`expected a ${DISCOVERY_CLAIM_TYPE}, got ${statement.t}`)
    }
    if (statement.c != null)
      throw new InvalidClaimError('a claim is signed by the root key, without certificate')
    const payload = payloadOf(statement)
    read.keys(payload, ['id', 'user', 'devices', 'seq', 'exp'], 'claim')
    const user = read.bytes(payload, 'user', 32)
    if (!equals(user, statement.s))
      throw new InvalidClaimError('the claim is not signed by the user it names')
    if (!equals(read.bytes(payload, 'id', 32), hash)) {
      throw new InvalidClaimError('the claim is for another identifier')
    }
    checkSignature(statement)
    const seq = read.uint(payload, 'seq')
    const expiresAt = read.uint(payload, 'exp')
    if (expiresAt > now + MAX_CLAIM_TTL_MS + CLOCK_SKEW_MS) {
      throw new InvalidClaimError('the claim expires too far in the future')
    }
    if (expiresAt <= now && options.allowExpired !== true)
      throw new InvalidClaimError('the claim has expired')
    const list = payload.devices
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_CLAIM_DEVICES) {
      throw new InvalidClaimError(`a claim lists 1 to ${MAX_CLAIM_DEVICES} devices`)
    }
    const seen = new Set<string>()
    const devices = list.map((item: unknown): ClaimDevice => {
      if (!(item instanceof Uint8Array)) throw new InvalidClaimError('a device entry is not bytes')
      const certificate = statementFromBytes(item, MAX_CLAIM_BYTES)
      const cert = readDeviceCertificate(certificate)
      if (!equals(cert.user, user)) throw new InvalidClaimError('a listed device belongs to another user')
      const id = toString(cert.device, 'base64')
      if (seen.has(id)) throw new InvalidClaimError('a device is listed twice')
      seen.add(id)
      return {
        deviceId: peerIdFromPublicKey(publicKeyFromRaw(cert.device)),
        name: cert.name,
        certificate
      }
    })
    return { user, userId: userIdFromRoot(user), devices, seq, expiresAt, bytes }
  } catch (err: unknown) {
    if (err instanceof InvalidClaimError) throw err
    throw new InvalidClaimError(`invalid claim: ${(err as Error).message}`, { cause: err })
  }
}

/** A DHT record value: every claimant's claim, ordered by root key. */
export function encodeClaimRecord(claims: DiscoveryClaim[]): Uint8Array {
  if (claims.length > MAX_CLAIMANTS)
    throw new InvalidParametersError(`a record holds at most ${MAX_CLAIMANTS} claims`)
  const sorted = [...claims].sort((a, b) => compare(a.user, b.user))
  return encode({ v: VERSION, c: sorted.map((claim) => claim.bytes) })
}

/** Reads and checks a record stored under `key`; throws `InvalidClaimError` for any fault in it. */
export function readClaimRecord(
  key: Uint8Array,
  value: Uint8Array,
  options: ReadClaimOptions = {}
): DiscoveryClaim[] {
  const hash = hashFromKey(key)
  try {
    const map = read.map(decode(value, MAX_CLAIM_RECORD_BYTES), 'claim record')
    read.keys(map, ['v', 'c'], 'claim record')
    if (read.uint(map, 'v') !== VERSION) throw new InvalidClaimError(`claim record version is not ${VERSION}`)
    const list = map.c
    if (!Array.isArray(list) || list.length > MAX_CLAIMANTS) {
      throw new InvalidClaimError(`a record holds at most ${MAX_CLAIMANTS} claims`)
    }
    const claims = list.map((item: unknown) => {
      if (!(item instanceof Uint8Array)) throw new InvalidClaimError('a claim is not bytes')
      return readClaim(item, hash, { ...options, allowExpired: true })
    })
    for (let i = 1; i < claims.length; i++) {
      if (compare(claims[i - 1]!.user, claims[i]!.user) >= 0) {
        throw new InvalidClaimError('claims are not ordered by user, or a user appears twice')
      }
    }
    const now = options.now ?? Date.now()
    return options.allowExpired === true ? claims : claims.filter((claim) => claim.expiresAt > now)
  } catch (err: unknown) {
    if (err instanceof InvalidClaimError) throw err
    throw new InvalidClaimError(`invalid claim record: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * What a DHT server keeps when it holds `stored` and receives `incoming`: per user, the claim with the higher `seq`
 * (an older claim never replaces a newer one, so a replayed record cannot roll a user back); users of both records
 * (a squatter's claim cannot push out the real user's); expired claims dropped. Past {@link MAX_CLAIMANTS} users,
 * claims already held are kept and new users refused until some expire.
 */
export function mergeClaimRecords(
  key: Uint8Array,
  stored: Uint8Array,
  incoming: Uint8Array,
  now = Date.now()
): Uint8Array {
  const held = readClaimRecord(key, stored, { now })
  const byUser = new Map(held.map((claim) => [toString(claim.user, 'base64'), claim]))
  for (const claim of readClaimRecord(key, incoming, { now })) {
    const id = toString(claim.user, 'base64')
    const current = byUser.get(id)
    if (current == null ? byUser.size < MAX_CLAIMANTS : claim.seq > current.seq) byUser.set(id, claim)
  }
  return encodeClaimRecord([...byUser.values()])
}

/**
 * The DHT rules for discovery records, for `createKithPeer({ dhtNamespaces: { [DISCOVERY_NAMESPACE]:
 * discoveryNamespace() } })` and every relay: validate claims, prefer the record with the most live claims, merge.
 */
export function discoveryNamespace(clock: () => number = Date.now): {
  validate(key: Uint8Array, value: Uint8Array): void
  select(key: Uint8Array, values: Uint8Array[]): number
  merge(key: Uint8Array, stored: Uint8Array, incoming: Uint8Array): Uint8Array
} {
  return {
    validate(key, value) {
      readClaimRecord(key, value, { now: clock(), allowExpired: true })
    },
    select(key, values) {
      const live = values.map((value) => {
        try {
          return readClaimRecord(key, value, { now: clock() }).length
        } catch {
          return -1
        }
      })
      return live.indexOf(Math.max(...live))
    },
    merge: (key, stored, incoming) => mergeClaimRecords(key, stored, incoming, clock())
  }
}

/** The part of a libp2p DHT (`peer.services.dht`) discovery uses. */
export interface DiscoveryDht {
  get(key: Uint8Array, options?: { signal?: AbortSignal }): AsyncIterable<DhtEvent>
  put(key: Uint8Array, value: Uint8Array, options?: { signal?: AbortSignal }): AsyncIterable<DhtEvent>
}

/** The fields of kad-dht's query events discovery reads. */
export interface DhtEvent {
  name: string
  from?: PeerId
  messageName?: string
  closer?: Array<{ id: PeerId }>
  record?: { value: Uint8Array }
  value?: Uint8Array
}

export interface DiscoveryInit {
  /** Salts the identifier hash: apps with different ids never see each other's claims. @default 'kith' */
  appId?: string
}

export interface PublishOptions extends Omit<CreateClaimOptions, 'now'> {
  signal?: AbortSignal
  /** @default 30_000 */
  timeoutMs?: number
}

export interface PublishResult {
  hash: Uint8Array
  seq: number
  expiresAt: number
  /** DHT servers that stored the claim. */
  stored: number
}

export interface LookupOptions {
  signal?: AbortSignal
  /** @default 10_000 */
  timeoutMs?: number
  /**
   * Stop once this many DHT servers have answered with a record. Every server near the key merges every claim it
   * is sent, so a few answers hold every claimant; more answers cost time and protect against servers that hide
   * claims. @default 3
   */
  answers?: number
}

export interface LookupResult {
  /** Every live, valid claim found, one per user, newest `seq` each. Empty when nobody claimed the identifier. */
  claims: DiscoveryClaim[]
  /** DHT servers that answered with a record. */
  answers: number
  /** DHT servers that answered at all. */
  queried: number
  /**
   * Hops to the first server holding a record: 1 for a server in this peer's routing table, 2 for one that such a
   * server named, and so on. Undefined when no record was found.
   */
  hops: number | undefined
  /** From the start of the lookup to the first valid record. Undefined when none was found. */
  firstAnswerMs: number | undefined
  durationMs: number
}

/**
 * Find a friend by an identifier (an email address) through the Kith DHT.
 *
 * @example
 * ```ts
 * const discovery = new Discovery(peer.services.dht, { appId: 'notes' })
 * await discovery.publish(identity, 'alice@example.com')     // on Alice's device holding her root key
 * const { claims } = await discovery.lookup('alice@example.com') // anywhere: a hint, verify before trusting
 * ```
 */
export class Discovery {
  private readonly dht: DiscoveryDht
  private readonly appId: string
  private readonly hashes = new Map<string, Promise<Uint8Array>>()

  constructor(dht: DiscoveryDht, init: DiscoveryInit = {}) {
    this.dht = dht
    this.appId = init.appId ?? 'kith'
  }

  /** The identifier's hash for this app, computed once per identifier (it costs about 0.1–0.2 s). */
  async hash(identifier: string): Promise<Uint8Array> {
    const normalized = normalizeIdentifier(identifier)
    let hash = this.hashes.get(normalized)
    if (hash == null) {
      hash = discoveryHash(normalized, this.appId)
      this.hashes.set(normalized, hash)
    }
    return hash
  }

  /**
   * Publishes the user's claim to `identifier` on the DHT servers closest to its key. Publish again before the
   * claim expires, and at least daily: DHT servers forget records they received more than 36 hours ago.
   * Throws `DiscoveryError` when no server stored it.
   */
  async publish(
    identity: Identity,
    identifier: string,
    options: PublishOptions = {}
  ): Promise<PublishResult> {
    const hash = await this.hash(identifier)
    const now = Date.now()
    const claim = signClaim(identity, hash, { ...options, now })
    const signal = withTimeout(options.signal, options.timeoutMs ?? 30_000)
    let stored = 0
    try {
      for await (const event of this.dht.put(discoveryKey(hash), encodeClaimRecord([claim]), { signal })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') stored++
      }
    } catch (err: unknown) {
      if (stored === 0)
        throw new DiscoveryError(`the claim was not published: ${(err as Error).message}`, { cause: err })
    }
    if (stored === 0) throw new DiscoveryError('no DHT server stored the claim')
    return { hash, seq: claim.seq, expiresAt: claim.expiresAt, stored }
  }

  /** Every user claiming `identifier`. Throws `DiscoveryError` when no DHT server answered at all. */
  async lookup(identifier: string, options: LookupOptions = {}): Promise<LookupResult> {
    return this.lookupHash(await this.hash(identifier), options)
  }

  async lookupHash(hash: Uint8Array, options: LookupOptions = {}): Promise<LookupResult> {
    const key = discoveryKey(hash)
    const wanted = options.answers ?? 3
    const started = performance.now()
    const signal = withTimeout(options.signal, options.timeoutMs ?? 10_000)
    const depth = new Map<string, number>()
    const claims = new Map<string, DiscoveryClaim>()
    let answers = 0
    let queried = 0
    let hops: number | undefined
    let firstAnswerMs: number | undefined
    const absorb = (value: Uint8Array): boolean => {
      let found: DiscoveryClaim[]
      try {
        found = readClaimRecord(key, value)
      } catch {
        return false
      }
      for (const claim of found) {
        const id = toString(claim.user, 'base64')
        const current = claims.get(id)
        if (current == null || claim.seq > current.seq) claims.set(id, claim)
      }
      return true
    }
    try {
      for await (const event of this.dht.get(key, { signal })) {
        if (event.name === 'VALUE' && event.value != null) {
          absorb(event.value)
        } else if (event.name === 'PEER_RESPONSE' && event.from != null) {
          queried++
          const from = depth.get(event.from.toString()) ?? 1
          for (const peer of event.closer ?? []) {
            if (!depth.has(peer.id.toString())) depth.set(peer.id.toString(), from + 1)
          }
          if (event.record != null && absorb(event.record.value)) {
            answers++
            hops ??= from
            firstAnswerMs ??= performance.now() - started
            if (answers >= wanted) break
          }
        }
      }
    } catch (err: unknown) {
      if (queried === 0) {
        throw new DiscoveryError(`no DHT server answered: ${(err as Error).message}`, { cause: err })
      }
    }
    if (queried === 0 && claims.size === 0) throw new DiscoveryError('no DHT server answered')
    return {
      claims: [...claims.values()].sort((a, b) => compare(a.user, b.user)),
      answers,
      queried,
      hops,
      firstAnswerMs,
      durationMs: performance.now() - started
    }
  }
}

function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs)
  return signal == null ? timeout : AbortSignal.any([signal, timeout])
}
