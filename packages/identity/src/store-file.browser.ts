import { KeystoreError } from './errors.ts'
import type { ByteStore } from './store.ts'

/** Browsers have no files: this stands in for the Node store and says what to use instead. */
export class FileByteStore implements ByteStore {
  constructor(_path: string) {
    throw new KeystoreError('files are for Node; in browsers use the IndexedDB stores')
  }

  get(): Promise<Uint8Array | undefined> {
    return Promise.resolve(undefined)
  }

  put(): Promise<void> {
    return Promise.resolve()
  }

  delete(): Promise<void> {
    return Promise.resolve()
  }
}
