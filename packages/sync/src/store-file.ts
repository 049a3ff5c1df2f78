import { mkdir, open, readFile, rename, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { sha256 } from '@noble/hashes/sha2.js'
import { toString } from 'uint8arrays/to-string'
import * as Y from 'yjs'
import type { DocStore } from './store.ts'

const COMPACT_AFTER = 500

/**
 * Node: one append-only file per document in `dir`. Each update is appended as a 4-byte big-endian length and the
 * bytes, and the file is synced before the next batch; a crash can leave at most a torn last record, which loading
 * drops. After 500 records the file is rewritten as one merged update (to a temporary file, then renamed).
 */
export class FileDocStore implements DocStore {
  constructor(private readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, `${toString(sha256(new TextEncoder().encode(key)), 'base64url')}.ylog`)
  }

  async bind(key: string, doc: Y.Doc): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const path = this.path(key)
    const updates = await readLog(path)
    if (updates.length > 0) Y.applyUpdate(doc, Y.mergeUpdates(updates), this)
    let records = updates.length
    let queue: Uint8Array[] = []
    let writing = Promise.resolve()
    const write = async (): Promise<void> => {
      const batch = queue
      queue = []
      if (batch.length === 0) return
      if (records + batch.length > COMPACT_AFTER) {
        const temporary = `${path}.tmp`
        await writeRecords(temporary, [Y.encodeStateAsUpdate(doc)], 'w')
        await rename(temporary, path)
        records = 1
      } else {
        await writeRecords(path, batch, 'a')
        records += batch.length
      }
    }
    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      if (origin === this) return
      queue.push(update)
      writing = writing.then(write, write)
    }
    doc.on('update', onUpdate)
    return async () => {
      doc.off('update', onUpdate)
      await writing
    }
  }
}

async function writeRecords(path: string, records: Uint8Array[], flags: 'a' | 'w'): Promise<void> {
  const handle = await open(path, flags, 0o600)
  try {
    for (const record of records) {
      const header = new Uint8Array(4)
      new DataView(header.buffer).setUint32(0, record.byteLength)
      await handle.write(header)
      await handle.write(record)
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** The records of a log; a torn tail (from a crash mid-write) is cut off. */
async function readLog(path: string): Promise<Uint8Array[]> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const records: Uint8Array[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  while (at + 4 <= bytes.byteLength) {
    const length = view.getUint32(at)
    if (at + 4 + length > bytes.byteLength) break
    records.push(bytes.subarray(at + 4, at + 4 + length))
    at += 4 + length
  }
  if (at < bytes.byteLength) await truncate(path, at)
  return records
}
