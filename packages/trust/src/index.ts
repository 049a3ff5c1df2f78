/**
 * @packageDocumentation
 *
 * `@kith/trust` lets people into a room only through an invite and a PIN. This first part is the PIN challenge:
 * CPace over ristretto255, checked against the draft's test vectors.
 */
export {
  CPaceSession,
  CPaceError,
  calculateGenerator,
  generatorString,
  scalarMult,
  scalarMultVfy,
  sampleScalar,
  transcriptIr,
  transcriptOc,
  deriveIsk,
  lvCat,
  prependLen,
  CPACE_DSI,
  CPACE_DSI_ISK,
  CPACE_POINT_BYTES,
  CPACE_S_IN_BYTES
} from './cpace.ts'
export type { CPaceInit } from './cpace.ts'
export {
  createInvite,
  inviteKeys,
  inviteLink,
  readInviteLink,
  pinPassword,
  InviteLinkError,
  InviteFlags,
  INVITE_FRAGMENT,
  INVITE_VERSION,
  INVITE_SECRET_BYTES,
  ROOM_ID_BYTES,
  MAX_INVITE_RELAYS,
  MAX_INVITE_LINK_BYTES,
  DEFAULT_INVITE_TTL_MS
} from './invite.ts'
export type { CreateInviteInit, Invite, InviteKeys } from './invite.ts'
