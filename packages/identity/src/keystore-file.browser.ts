import { KeystoreError } from './errors.ts'
import type { Identity } from './identity.ts'
import type { Keystore } from './keystore.ts'

/** Browsers have no files: this stands in for the Node keystore and says what to use instead. */
export class FileKeystore implements Keystore {
  constructor(_path: string) {
    throw new KeystoreError('FileKeystore is for Node; use IDBKeystore in browsers')
  }

  load(): Promise<Identity | undefined> {
    return Promise.resolve(undefined)
  }

  save(): Promise<void> {
    return Promise.resolve()
  }

  clear(): Promise<void> {
    return Promise.resolve()
  }
}
