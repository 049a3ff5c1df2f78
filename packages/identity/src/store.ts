/** One value of bytes kept somewhere: the persistence under keystores and contact books. */
export interface ByteStore {
  get(): Promise<Uint8Array | undefined>
  /** Replaces the value atomically. */
  put(bytes: Uint8Array): Promise<void>
  delete(): Promise<void>
}

export class MemoryByteStore implements ByteStore {
  private value?: Uint8Array

  get(): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.value)
  }

  put(bytes: Uint8Array): Promise<void> {
    this.value = new Uint8Array(bytes)
    return Promise.resolve()
  }

  delete(): Promise<void> {
    this.value = undefined
    return Promise.resolve()
  }
}
