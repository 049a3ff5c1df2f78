/**
 * The invite exchange (`/kith/trust/invite/1.0.0`), newcomer N and inviter M on one stream, every message a
 * length-prefixed DAG-CBOR map:
 *
 * 1. N → M `hello {v, room, id, nonce}` — M answers an `error {code}` (unknown, used, burned, expired, revoked, busy)
 *    or `challenge {nonce}`.
 * 2. CPace (N initiator): N → M `share {y}`, M → N `share {y}`. PRS = invite secret ‖ PIN; CI = room, invite and both
 *    peer ids; sid = both nonces.
 * 3. N → M `confirm {mac}` first. M checks it before sending anything that depends on the PIN: a wrong one counts a
 *    failure (the third burns the invite) and gets `error WRONG_PIN`; a right one gets `confirm {mac}` back.
 * 4. N → M `sealed(claim)`: its certificates and the claim signed by the invite key and its device key.
 * 5. M appends ADMIT and answers `sealed(welcome {log})`; N checks it joined the room in the link.
 *
 * Steps 4–5 are encrypted with keys derived from the CPace key (XChaCha20-Poly1305), whatever the transport.
 */
import { decode, deviceSecret, encode, read, statementToBytes } from '@kith/identity'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { equalBytes } from '@noble/ciphers/utils.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { equals } from 'uint8arrays/equals'
import { fromString } from 'uint8arrays/from-string'
import { checkAdmission, encodeClaim, signClaim } from './claim.ts'
import { CPaceError, CPaceSession, lvCat } from './cpace.ts'
import { b64 } from './entries.ts'
import { INVITE_ERROR_CODES, InviteError } from './errors.ts'
import { inviteKeys, INVITE_VERSION, pinPassword } from './invite.ts'
import { Room } from './room.ts'
import type { InviteErrorCode } from './errors.ts'
import type { Invite } from './invite.ts'
import type { Identity } from '@kith/identity'
import type { PeerId } from '@libp2p/interface'

export const INVITE_PROTOCOL = '/kith/trust/invite/1.0.0'
/** Handshake messages; the welcome (the whole log) may be larger. */
export const MAX_HANDSHAKE_MESSAGE_BYTES = 16 * 1024
export const MAX_WELCOME_BYTES = 8 * 1024 * 1024
/** The whole exchange. */
export const DEFAULT_INVITE_TIMEOUT_MS = 30_000

/** One message at a time each way: a libp2p stream, or a pair of queues in tests. */
export interface Channel {
  read(): Promise<Uint8Array>
  write(bytes: Uint8Array): Promise<void>
}

const label = (text: string): Uint8Array => fromString(text)

/** CPace's channel id: the protocol, the room, the invite and both devices, each length-prefixed. */
export function inviteChannelId(room: string, id: Uint8Array, inviter: PeerId, newcomer: PeerId): Uint8Array {
  return lvCat(
    label('kith/invite/v1'),
    fromString(room),
    id,
    inviter.toMultihash().bytes,
    newcomer.toMultihash().bytes
  )
}

interface Keys {
  transcript: Uint8Array
  confirmN: Uint8Array
  confirmM: Uint8Array
  n2m: Uint8Array
  m2n: Uint8Array
}

function sessionKeys(isk: Uint8Array, transcriptParts: Uint8Array[]): Keys {
  // SHA-256 of CI, sid, Ya and Yb, each length-prefixed
  const transcript = sha256(lvCat(...transcriptParts))
  const derive = (name: string): Uint8Array =>
    hkdf(sha512, isk, transcript, label(`kith/invite/${name}/v1`), 32)
  const macKey = derive('confirm')
  return {
    transcript,
    confirmN: hmac(sha256, macKey, label('newcomer')),
    confirmM: hmac(sha256, macKey, label('inviter')),
    n2m: derive('n2m'),
    m2n: derive('m2n')
  }
}

/** Each direction's key seals one message at most twice; the nonce is a counter. */
function sealMessage(key: Uint8Array, counter: number, value: unknown): Uint8Array {
  const nonce = new Uint8Array(24)
  nonce[0] = counter
  return xchacha20poly1305(key, nonce).encrypt(encode(value))
}

function openMessage(
  key: Uint8Array,
  counter: number,
  bytes: Uint8Array,
  maxBytes: number
): Record<string, unknown> {
  const nonce = new Uint8Array(24)
  nonce[0] = counter
  let plain: Uint8Array
  try {
    plain = xchacha20poly1305(key, nonce).decrypt(bytes)
  } catch (err: unknown) {
    throw new InviteError('PROTOCOL', 'a sealed invite message does not open', { cause: err })
  }
  return read.map(decode(plain, maxBytes), 'sealed message')
}

/** What went wrong with a read, in words: libp2p reports a read cut short by its signal as an AggregateError. */
function failure(err: unknown): string {
  const inner = err instanceof AggregateError ? (err.errors.at(-1) as unknown) : err
  const name = inner instanceof Error ? inner.name : ''
  if (name === 'TimeoutError' || name === 'AbortError') return 'it took too long (the exchange timed out)'
  return inner instanceof Error ? inner.message : String(inner)
}

async function receive(
  channel: Channel,
  what: string,
  maxBytes = MAX_HANDSHAKE_MESSAGE_BYTES
): Promise<Record<string, unknown>> {
  let bytes: Uint8Array
  try {
    bytes = await channel.read()
  } catch (err: unknown) {
    // the stream ended, was reset or timed out: say so, rather than call what never came malformed
    throw new InviteError('PROTOCOL', `no ${what} came from the other device: ${failure(err)}`, {
      cause: err
    })
  }
  let map: Record<string, unknown>
  try {
    map = read.map(decode(bytes, maxBytes), what)
  } catch (err: unknown) {
    throw new InviteError('PROTOCOL', `malformed ${what}: ${(err as Error).message}`, { cause: err })
  }
  if (map.t === 'error') {
    const code = INVITE_ERROR_CODES.includes(map.code as InviteErrorCode)
      ? (map.code as InviteErrorCode)
      : 'PROTOCOL'
    throw new InviteError(code, explain(code), { cause: map })
  }
  return map
}

/** What each code means to the person who sees it. */
export function explain(code: InviteErrorCode): string {
  switch (code) {
    case 'INVITE_UNKNOWN':
      return 'the inviting device does not know this invite (it may belong to another device or room)'
    case 'INVITE_USED':
      return 'this invite was already used by someone else — tell the person who invited you: the link may have been intercepted'
    case 'INVITE_BURNED':
      return 'too many wrong PINs were tried with this invite, so it no longer works — ask for a new one'
    case 'INVITE_EXPIRED':
      return 'this invite has expired — ask for a new one'
    case 'INVITE_REVOKED':
      return 'the person who invited you withdrew this invite'
    case 'WRONG_PIN':
      return 'the PIN does not match this invite'
    case 'BUSY':
      return 'someone else is answering this invite right now — try again in a moment'
    case 'WRONG_ROOM':
      return 'the other side answered with a different room than the one in the link — joining was stopped'
    case 'NOT_MEMBER':
      return 'the other device is not a member of this room'
    case 'PROTOCOL':
      return 'the invite exchange failed (a damaged or unexpected message, or a timeout)'
  }
}

function field<T>(fn: () => T, what: string): T {
  try {
    return fn()
  } catch (err: unknown) {
    throw new InviteError('PROTOCOL', `malformed ${what}: ${(err as Error).message}`, { cause: err })
  }
}

/** What the inviter's side needs: the rooms it can admit to, and who is on the other end. */
export interface AnswerContext {
  /** The room a hello names, if this device holds it. */
  room(id: string): Room | undefined
  /** This device (the inviter). */
  self: PeerId
  /** The libp2p-authenticated newcomer. */
  remote: PeerId
}

/**
 * The inviter's side: answers one redemption. Resolves with the room the newcomer joined; rejects with the
 * `InviteError` it also sent to the newcomer.
 */
export async function answerInvite(channel: Channel, context: AnswerContext): Promise<Room> {
  const { remote, self } = context
  let refused = false
  const refuse = async (code: InviteErrorCode, message = explain(code)): Promise<never> => {
    refused = true
    await channel.write(encode({ t: 'error', code })).catch(() => undefined)
    throw new InviteError(code, message)
  }
  let hello: Record<string, unknown>
  try {
    hello = await receive(channel, 'hello')
    read.keys(hello, ['t', 'v', 'room', 'id', 'nonce'], 'hello')
    if (hello.t !== 'hello' || read.uint(hello, 'v') !== INVITE_VERSION)
      throw new InviteError('PROTOCOL', 'not a version 1 hello')
  } catch (err: unknown) {
    return refuse('PROTOCOL', `bad hello: ${(err as Error).message}`)
  }
  const roomId = field(() => read.string(hello, 'room', 43), 'hello')
  const inviteId = field(() => read.bytes(hello, 'id', 16), 'hello')
  const nonceN = field(() => read.bytes(hello, 'nonce', 16), 'hello')
  const room = context.room(roomId)
  if (room == null) return refuse('INVITE_UNKNOWN')
  const id = b64(inviteId)
  const record = room.state.invites.find((i) => i.idKey === id)
  const held = room.heldInvite(id)
  if (record?.status === 'used' || (record != null && held == null && record.admitted.length > 0)) {
    const admitted = room.state.members.find((m) => record.admitted.includes(m.userKey))
    room.safeDispatchEvent('invite:reused', {
      detail: { invite: id, peer: remote, ...(admitted != null ? { admitted } : {}) }
    })
    return refuse('INVITE_USED')
  }
  if (record?.status === 'burned') return refuse('INVITE_BURNED')
  if (record?.status === 'revoked') return refuse('INVITE_REVOKED')
  if (record == null || held == null) return refuse('INVITE_UNKNOWN')
  if (record.status === 'expired' || Date.now() > held.invite.expiresAt) return refuse('INVITE_EXPIRED')
  if (held.busy) return refuse('BUSY')
  held.busy = true
  try {
    const nonceM = randomBytes(16)
    await channel.write(encode({ t: 'challenge', nonce: nonceM }))
    const ci = inviteChannelId(roomId, inviteId, self, remote)
    const sid = new Uint8Array([...nonceN, ...nonceM])
    const session = new CPaceSession({
      prs: pinPassword(held.invite.secret, held.pin),
      ci,
      sid,
      ad: new Uint8Array(0),
      role: 'responder'
    })
    const share = await receive(channel, 'share')
    const ya = field(() => read.bytes(share, 'y', 32), 'share')
    if (equals(ya, session.share)) return await refuse('PROTOCOL', 'the newcomer reflected the share')
    await channel.write(encode({ t: 'share', y: session.share }))
    let keys: Keys | undefined
    try {
      keys = sessionKeys(session.finish(ya, new Uint8Array(0)), [ci, sid, ya, session.share])
    } catch (err: unknown) {
      if (!(err instanceof CPaceError)) throw err
    }
    const confirm = await receive(channel, 'confirm')
    const mac = field(() => read.bytes(confirm, 'mac', 32), 'confirm')
    if (keys == null || !equalBytes(mac, keys.confirmN)) {
      const burned = room.recordFailure(id, remote)
      return await refuse(burned ? 'INVITE_BURNED' : 'WRONG_PIN')
    }
    await channel.write(encode({ t: 'confirm', mac: keys.confirmM }))
    const sealedClaim = await receive(channel, 'claim')
    const claimMessage = openMessage(
      keys.n2m,
      1,
      field(() => read.bytes(sealedClaim, 'sealed'), 'claim'),
      MAX_HANDSHAKE_MESSAGE_BYTES
    )
    const evidence = field(() => {
      read.keys(claimMessage, ['claim', 'isig', 'dsig', 'cert', 'enc'], 'claim')
      return {
        claim: read.bytes(claimMessage, 'claim'),
        inviteSig: read.bytes(claimMessage, 'isig', 64),
        deviceSig: read.bytes(claimMessage, 'dsig', 64),
        cert: read.bytes(claimMessage, 'cert'),
        enc: read.bytes(claimMessage, 'enc')
      }
    }, 'claim')
    let admitted
    try {
      admitted = checkAdmission(evidence, {
        room: roomId,
        invite: inviteId,
        inviteKey: record.key,
        inviter: room.identity.device.publicKey.raw
      })
    } catch (err: unknown) {
      return await refuse('PROTOCOL', `the claim does not hold: ${(err as Error).message}`)
    }
    if (remote.publicKey == null || !equals(admitted.device, remote.publicKey.raw)) {
      return await refuse('PROTOCOL', 'the claim is for another device than the one connected')
    }
    if (!equals(admitted.claim.transcript, keys.transcript)) {
      return await refuse('PROTOCOL', 'the claim was made in another session')
    }
    await room.admit(id, evidence, { device: admitted.device, enc: admitted.enc })
    await channel.write(encode({ t: 'sealed', sealed: sealMessage(keys.m2n, 2, { log: room.log() }) }))
    return room
  } catch (err: unknown) {
    // a malformed message or a failed check that threw on its own: the newcomer hears why
    if (!refused && err instanceof InviteError) await refuse(err.code, err.message)
    throw err
  } finally {
    held.busy = false
  }
}

export interface RedeemOptions {
  /** Called as the exchange moves on, for progress displays. */
  onStep?: (step: 'hello' | 'pin' | 'claim' | 'welcome') => void
}

/**
 * The newcomer's side, on a channel to the inviter named in the link (the caller has checked the connection is
 * to `invite.inviter`). Resolves with the room once the newcomer checked it is the room of the link, that the
 * inviter logged the invite, and that the admission names its keys. Rejects with `InviteError`.
 */
export async function redeemInvite(
  channel: Channel,
  init: { invite: Invite; pin: string; identity: Identity },
  options: RedeemOptions = {}
): Promise<Room> {
  const { invite, pin, identity } = init
  const room = b64(invite.room)
  const keys = inviteKeys(invite.secret)
  const prs = pinPassword(invite.secret, pin)
  if (Date.now() > invite.expiresAt) throw new InviteError('INVITE_EXPIRED', explain('INVITE_EXPIRED'))
  options.onStep?.('hello')
  const nonceN = randomBytes(16)
  await channel.write(encode({ t: 'hello', v: INVITE_VERSION, room, id: keys.id, nonce: nonceN }))
  const challenge = await receive(channel, 'challenge')
  if (challenge.t !== 'challenge') throw new InviteError('PROTOCOL', 'expected a challenge')
  const nonceM = field(() => read.bytes(challenge, 'nonce', 16), 'challenge')
  options.onStep?.('pin')
  const ci = inviteChannelId(room, keys.id, invite.inviter, identity.deviceId)
  const sid = new Uint8Array([...nonceN, ...nonceM])
  const session = new CPaceSession({ prs, ci, sid, ad: new Uint8Array(0), role: 'initiator' })
  await channel.write(encode({ t: 'share', y: session.share }))
  const share = await receive(channel, 'share')
  const yb = field(() => read.bytes(share, 'y', 32), 'share')
  if (equals(yb, session.share)) throw new InviteError('PROTOCOL', 'the inviter reflected the share')
  let isk: Uint8Array
  try {
    isk = session.finish(yb, new Uint8Array(0))
  } catch (err: unknown) {
    throw new InviteError('PROTOCOL', 'the inviter sent an invalid share', { cause: err })
  }
  const sessionKeysN = sessionKeys(isk, [ci, sid, session.share, yb])
  await channel.write(encode({ t: 'confirm', mac: sessionKeysN.confirmN }))
  const confirm = await receive(channel, 'confirm')
  const mac = field(() => read.bytes(confirm, 'mac', 32), 'confirm')
  if (!equalBytes(mac, sessionKeysN.confirmM)) {
    throw new InviteError('WRONG_ROOM', 'the inviting device could not prove it holds this invite')
  }
  options.onStep?.('claim')
  const claim = encodeClaim({
    room,
    invite: keys.id,
    user: identity.user,
    device: identity.device.publicKey.raw,
    inviter: field(() => invite.inviter.publicKey?.raw ?? new Uint8Array(0), 'inviter'),
    transcript: sessionKeysN.transcript
  })
  const sigs = signClaim(claim, keys.secretKey, deviceSecret(identity.device))
  await channel.write(
    encode({
      t: 'sealed',
      sealed: sealMessage(sessionKeysN.n2m, 1, {
        claim,
        isig: sigs.inviteSig,
        dsig: sigs.deviceSig,
        cert: statementToBytes(identity.certificate),
        enc: statementToBytes(identity.encryption.certificate)
      })
    })
  )
  options.onStep?.('welcome')
  const sealedWelcome = await receive(channel, 'welcome', MAX_WELCOME_BYTES + 1024)
  const welcome = openMessage(
    sessionKeysN.m2n,
    2,
    field(() => read.bytes(sealedWelcome, 'sealed'), 'welcome'),
    MAX_WELCOME_BYTES
  )
  const log = Array.isArray(welcome.log)
    ? welcome.log.filter((e): e is Uint8Array => e instanceof Uint8Array)
    : []
  return admittedBy(log, invite, identity)
}

/**
 * The room `log` makes, checked the way a newcomer checks its welcome: it is the log of the room in the link, it
 * holds the link's invite as logged by the inviter named in the link, and it admits this device. Throws
 * `InviteError` (`WRONG_ROOM`). Also used when the welcome was lost and the log is fetched again (`Rooms.join`).
 */
export function admittedBy(log: Uint8Array[], invite: Invite, identity: Identity): Room {
  const keys = inviteKeys(invite.secret)
  let joined: Room
  try {
    joined = Room.fromEntries(identity, log, b64(invite.room))
  } catch (err: unknown) {
    throw new InviteError('WRONG_ROOM', 'the log sent is not the log of the room in the link', { cause: err })
  }
  const record = joined.state.invites.find((i) => equals(i.id, keys.id))
  if (record == null || !record.byDevice.equals(invite.inviter) || !equals(record.key, keys.publicKey)) {
    throw new InviteError('WRONG_ROOM', 'the room log holds no invite matching the link from its inviter')
  }
  const me = joined.me
  if (me == null || !me.devices.some((d) => d.deviceId.equals(identity.deviceId))) {
    throw new InviteError('WRONG_ROOM', 'the room log does not admit this device')
  }
  return joined
}
