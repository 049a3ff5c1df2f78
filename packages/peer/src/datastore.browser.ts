import { IDBDatastore } from 'datastore-idb'
import type { PersistentDatastore } from './datastore.ts'

export async function createPersistentDatastore(location: string): Promise<PersistentDatastore> {
  const store = new IDBDatastore(location)
  await store.open()
  return store
}
