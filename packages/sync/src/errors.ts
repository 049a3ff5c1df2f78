/**
 * Why a sync link or a message was refused, or a catch-up failed:
 * - `NOT_MEMBER`: the peer (or the origin of an update it forwarded) is not a member device of the room now.
 * - `STALE_EPOCH`: a message sealed under an epoch older than the room's current one — typically a removed member.
 * - `NO_KEY`: a message sealed under an epoch this device cannot open yet (it will catch up on the room log).
 * - `BAD_SIGNATURE`: an update whose origin signature does not verify.
 * - `MALFORMED`: a message that does not decode, names a bad document, or is out of order.
 * - `TOO_LARGE`: a message or a catch-up past its limit.
 * - `DOC_LIMIT`: more documents than a room may hold.
 * - `CATCH_UP_FAILED`: a catch-up that stopped before its last chunk (link closed or timed out).
 * - `UNKNOWN_ROOM`: the peer asked for a room this device does not hold.
 * - `TIMEOUT`: the peer did not answer in time.
 */
export type SyncErrorCode =
  | 'NOT_MEMBER'
  | 'STALE_EPOCH'
  | 'NO_KEY'
  | 'BAD_SIGNATURE'
  | 'MALFORMED'
  | 'TOO_LARGE'
  | 'DOC_LIMIT'
  | 'CATCH_UP_FAILED'
  | 'UNKNOWN_ROOM'
  | 'TIMEOUT'

export const SYNC_ERROR_CODES: readonly SyncErrorCode[] = [
  'NOT_MEMBER',
  'STALE_EPOCH',
  'NO_KEY',
  'BAD_SIGNATURE',
  'MALFORMED',
  'TOO_LARGE',
  'DOC_LIMIT',
  'CATCH_UP_FAILED',
  'UNKNOWN_ROOM',
  'TIMEOUT'
]

/** A refused message, a refused link or a failed catch-up; `code` says which (see {@link SyncErrorCode}). */
export class SyncError extends Error {
  static override name = 'SyncError'
  readonly code: SyncErrorCode
  constructor(code: SyncErrorCode, message: string = code, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SyncError'
    this.code = code
  }
}
