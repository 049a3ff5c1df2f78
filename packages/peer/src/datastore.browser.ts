import { IDBDatastore } from 'datastore-idb'
import type { Datastore } from 'interface-datastore'

export async function createPersistentDatastore(location: string): Promise<Datastore> {
  const store = new IDBDatastore(location)
  await store.open()
  return store
}
