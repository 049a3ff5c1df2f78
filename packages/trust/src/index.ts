/**
 * @packageDocumentation
 *
 * `@kith/trust` lets people into a room only through an invite and a PIN. A member makes a one-time link and tells
 * the PIN out of band; the newcomer proves it holds both with CPace (ristretto255, checked against the draft's test
 * vectors); the inviter appends a signed admission to the room's hash-linked log, which every member validates on
 * its own. Epoch secrets sealed to each member device (HPKE) protect the room's data and rotate on removal; a
 * connection gater keeps non-members out; signed neighbour lists show the room's topology. See the README.
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
export { InviteError, EntryError, RoomError, INVITE_ERROR_CODES } from './errors.ts'
export type { InviteErrorCode, RoomErrorCode } from './errors.ts'
export {
  createEntry,
  readEntry,
  hashOf,
  ENTRY_TYPE,
  ENTRY_VERSION,
  MAX_ENTRY_BYTES,
  MAX_PREV,
  MAX_LOCKBOXES,
  MAX_ROOM_NAME_LENGTH
} from './entries.ts'
export type { Entry, EntryData, EntryKind, EntryPosition, EpochKeys, Lockbox } from './entries.ts'
export { encodeClaim, readClaim, signClaim, checkAdmission, CLAIM_TYPE } from './claim.ts'
export type { AdmissionEvidence, AdmittedDevice, Claim } from './claim.ts'
export { reduceRoom } from './reducer.ts'
export type {
  DroppedEntry,
  EpochState,
  Equivocation,
  InviteRecord,
  InviteStatus,
  Member,
  MemberDevice,
  RoomState
} from './reducer.ts'
export {
  sealEpoch,
  sealTo,
  openLockbox,
  openPrevious,
  dataKey,
  sealData,
  openData,
  sealedEpoch,
  sealPacked,
  packedEpoch,
  newEpochSecret,
  EPOCH_SECRET_BYTES,
  MAX_SEALED_BYTES
} from './keys.ts'
export type { Recipient } from './keys.ts'
export {
  Room,
  randomPin,
  roomBytes,
  MAX_ROOM_ENTRIES,
  MAX_PENDING_ENTRIES,
  MAX_PIN_FAILURES,
  DEFAULT_PIN_DIGITS
} from './room.ts'
export type { CreatedInvite, HeldInvite, InviteFailure, InviteOptions, RoomEvents } from './room.ts'
export {
  answerInvite,
  redeemInvite,
  explain,
  inviteChannelId,
  INVITE_PROTOCOL,
  MAX_HANDSHAKE_MESSAGE_BYTES,
  MAX_WELCOME_BYTES,
  DEFAULT_INVITE_TIMEOUT_MS
} from './admission.ts'
export type { AnswerContext, Channel, RedeemOptions } from './admission.ts'
export { RoomGater } from './gater.ts'
export type { Denial, GaterHook, GaterPolicy, RoomGaterEvents, RoomGaterInit } from './gater.ts'
export {
  attestNeighbours,
  ownAttestation,
  readAttestation,
  readAttestationAsync,
  roomTopology,
  NEIGHBOURS_TYPE,
  MAX_NEIGHBOURS
} from './topology.ts'
export type {
  Attestation,
  Topology,
  TopologyEdge,
  TopologyFlag,
  TopologyNode,
  TopologyOptions
} from './topology.ts'
export {
  Rooms,
  ROOM_PROTOCOL,
  MAX_ROOM_MESSAGE_BYTES,
  DEFAULT_SYNC_TIMEOUT_MS,
  DEFAULT_ATTEST_INTERVAL_MS,
  DEFAULT_MESH_DEGREE,
  meshTargets,
  meshNeighbours,
  meshGraph,
  MESH_PRUNE_AFTER_MS
} from './rooms.ts'
export type { FallbackRelays, JoinOptions, MeshOptions, RoomsEvents, RoomsInit } from './rooms.ts'
