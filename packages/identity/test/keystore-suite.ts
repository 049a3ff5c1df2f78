import { describe, expect, it } from 'vitest'
import { createIdentity, loadOrCreateIdentity, signAs, verify } from '../src/index.ts'
import type { Keystore } from '../src/index.ts'

/** What every keystore must do; run by each implementation's spec. */
export interface KeystoreFixture {
  keystore: Keystore
  /** The same store opened again, as after a restart. */
  reopen: () => Promise<Keystore>
  cleanup: () => Promise<void>
}

export function runKeystoreTests(name: string, setup: () => Promise<KeystoreFixture>): void {
  describe(`${name} keystore`, () => {
    it('should be empty at first', async () => {
      const { keystore, cleanup } = await setup()
      try {
        expect(await keystore.load()).toBeUndefined()
      } finally {
        await cleanup()
      }
    })

    it('should create an identity once and give the same one back after reopening', async () => {
      const { keystore, reopen, cleanup } = await setup()
      try {
        const first = await loadOrCreateIdentity(keystore, { deviceName: name })
        const again = await loadOrCreateIdentity(await reopen())
        expect(again.deviceId.equals(first.deviceId)).toBe(true)
        expect(again.user).toEqual(first.user)
        expect(verify(signAs(again, 'note', 1), { type: 'note' }).deviceName).toBe(name)
      } finally {
        await cleanup()
      }
    })

    it('should replace the stored identity on save and forget it on clear', async () => {
      const { keystore, cleanup } = await setup()
      try {
        await loadOrCreateIdentity(keystore)
        const other = await createIdentity()
        await keystore.save(other)
        expect((await keystore.load())?.deviceId.equals(other.deviceId)).toBe(true)
        await keystore.clear()
        expect(await keystore.load()).toBeUndefined()
      } finally {
        await cleanup()
      }
    })
  })
}
