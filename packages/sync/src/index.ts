/**
 * @packageDocumentation
 *
 * Shared state for Kith rooms: Yjs documents that every member of a `@kith/trust` room edits, sealed under the
 * room's epoch key, synced over a partial mesh of direct links, stored on each device.
 *
 * @example
 * ```ts
 * import { Sync, IndexedDBDocStore } from '@kith/sync'
 *
 * const sync = new Sync({ peer, rooms, identity, appId: 'notes', store: new IndexedDBDocStore() })
 * await sync.start()
 * const doc = await sync.doc(room, 'notes')
 * doc.getText('body').insert(0, 'hello')
 * ```
 */
export { Sync, SYNC_VERSION, DEFAULT_ANTI_ENTROPY_MS, DEFAULT_CONFIRM_MS } from './sync.ts'
export type { SyncEvents, SyncInit, SyncStatus } from './sync.ts'
export { Replica, updateSigningInput, PRESENCE_RENEW_MS, PRESENCE_KEEP_MS } from './replica.ts'
export type { Link, ReplicaEvents, ReplicaInit } from './replica.ts'
export {
  decodeFrame,
  encodeFrame,
  isDocName,
  CHUNK_BYTES,
  MAX_FRAME_BYTES,
  MAX_UPDATE_BYTES,
  MAX_AWARENESS_BYTES,
  MAX_DOC_NAME_LENGTH,
  WANT_UPDATE,
  WANT_VECTOR
} from './frames.ts'
export type { Frame } from './frames.ts'
export { SyncError, SYNC_ERROR_CODES } from './errors.ts'
export type { SyncErrorCode } from './errors.ts'
export { MemoryDocStore } from './store.ts'
export type { DocStore } from './store.ts'
export { FileDocStore } from './store-file.ts'
export { IndexedDBDocStore } from './store-idb.ts'
