import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPersistentDatastore } from '@kith/peer'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startPeer } from './fixtures/nodes.ts'

describe('a peer with a persistent datastore', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kith-store-'))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('should keep its peer id and its peer store across a restart', async () => {
    const other = await startPeer()
    const store = await createPersistentDatastore(join(dir, 'db'))
    const first = await startPeer({ datastore: store })
    await first.dial(other.getMultiaddrs()[0]!)
    const id = first.peerId.toString()
    await first.stop()
    // the datastore belongs to the app: stopping the peer leaves it open
    await store.close()

    const reopened = await createPersistentDatastore(join(dir, 'db'))
    const again = await startPeer({ datastore: reopened })
    try {
      expect(again.peerId.toString()).toBe(id)
      const known = await again.peerStore.get(other.peerId)
      expect(known.addresses.map((a) => a.multiaddr.toString())).toContain(
        other.getMultiaddrs()[0]!.toString().split('/p2p/')[0]
      )
    } finally {
      await again.stop()
      await reopened.close()
      await other.stop()
    }
  })
})
