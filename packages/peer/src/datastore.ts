import { LevelDatastore } from 'datastore-level'
import type { Datastore } from 'interface-datastore'

/** A datastore on disk (Node) or in IndexedDB (browsers); `close()` it after stopping the peer that uses it. */
export interface PersistentDatastore extends Datastore {
  close(): Promise<void>
}

/**
 * A datastore that survives restarts: LevelDB in the folder `location` (Node), an IndexedDB database named
 * `location` (browsers). The peer store and the peer's private key live in it. It is opened here and belongs to the
 * caller: stopping the peer leaves it open; `close()` it after `peer.stop()`.
 */
export async function createPersistentDatastore(location: string): Promise<PersistentDatastore> {
  const store = new LevelDatastore(location)
  await store.open()
  return store
}
