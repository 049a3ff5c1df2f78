/**
 * Why joining a room failed, the same code on both sides of the exchange:
 * - `INVITE_UNKNOWN`: the inviter has no such invite (yet), or this is not the inviter's device.
 * - `INVITE_USED`: someone redeemed the link first — possibly an interception; tell the inviter.
 * - `INVITE_BURNED`: too many wrong PINs were tried; the invite is dead.
 * - `INVITE_EXPIRED`, `INVITE_REVOKED`: the invite ran out or the inviter withdrew it.
 * - `WRONG_PIN`: the PIN (or the link's secret) did not match; the invite allows {@link MAX_PIN_FAILURES} in all.
 * - `BUSY`: another redemption of this invite is in progress; try again in a moment.
 * - `WRONG_ROOM`: the peer answered with a room other than the one in the link — the newcomer aborted.
 * - `NOT_MEMBER`: the peer is not (or no longer) a member of the room.
 * - `PROTOCOL`: a malformed, oversized or out-of-order message, or a timeout.
 */
export type InviteErrorCode =
  | 'INVITE_UNKNOWN'
  | 'INVITE_USED'
  | 'INVITE_BURNED'
  | 'INVITE_EXPIRED'
  | 'INVITE_REVOKED'
  | 'WRONG_PIN'
  | 'BUSY'
  | 'WRONG_ROOM'
  | 'NOT_MEMBER'
  | 'PROTOCOL'

export const INVITE_ERROR_CODES: readonly InviteErrorCode[] = [
  'INVITE_UNKNOWN',
  'INVITE_USED',
  'INVITE_BURNED',
  'INVITE_EXPIRED',
  'INVITE_REVOKED',
  'WRONG_PIN',
  'BUSY',
  'WRONG_ROOM',
  'NOT_MEMBER',
  'PROTOCOL'
]

/** A failed invitation, with a code saying whose move it is (see {@link InviteErrorCode}). */
export class InviteError extends Error {
  static override name = 'InviteError'
  readonly code: InviteErrorCode
  constructor(code: InviteErrorCode, message: string = code, options?: ErrorOptions) {
    super(message, options)
    this.name = 'InviteError'
    this.code = code
  }
}

/** A room log entry that is malformed, badly signed, or does not fit the log it was offered to. */
export class EntryError extends Error {
  static override name = 'EntryError'
  constructor(message = 'Invalid room entry', options?: ErrorOptions) {
    super(message, options)
    this.name = 'EntryError'
  }
}

/**
 * A room operation that the local member may not do or that cannot work now: not an admin, not a member, no key
 * for an epoch, an unknown room, a full log, no connection to the peer a room sync was for. `code` tells which.
 */
export type RoomErrorCode =
  'NOT_ADMIN' | 'NOT_MEMBER' | 'NO_KEY' | 'UNKNOWN_ROOM' | 'INVALID' | 'LOG_FULL' | 'UNREACHABLE'

export class RoomError extends Error {
  static override name = 'RoomError'
  readonly code: RoomErrorCode
  constructor(code: RoomErrorCode, message: string = code, options?: ErrorOptions) {
    super(message, options)
    this.name = 'RoomError'
    this.code = code
  }
}
