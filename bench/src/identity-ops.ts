// Identity measurements that run the same way in Node and in the benchmark page.
import { createIdentity, exportBackup, importBackup, signAs, verify } from '@kith/identity'
import { ed25519 } from '@noble/curves/ed25519.js'

export interface IdentityOps {
  /** Kith statements signed per second (canonical encoding, domain separation, certificate attached). */
  signPerSecond: number
  /** Kith statements verified per second (the full verify: encoding, certificate, revocation, signature). */
  verifyPerSecond: number
  /** Anchor: raw Ed25519 signatures of the same payload size per second. */
  rawSignPerSecond: number
  rawVerifyPerSecond: number
  backupExportMs: number
  backupImportMs: number
}

/** How many times `fn` runs per second, over a window of `ms`. */
export function rate(ms: number, fn: () => void): number {
  const started = performance.now()
  let count = 0
  while (performance.now() - started < ms) {
    fn()
    count++
  }
  return Math.round(count / ((performance.now() - started) / 1000))
}

export async function measureIdentity(windowMs = 1_000): Promise<IdentityOps> {
  const identity = await createIdentity({ deviceName: 'bench' })
  const body = { text: 'x'.repeat(100), n: 1 }
  const signed = signAs(identity, 'note', body)
  const secret = ed25519.utils.randomSecretKey()
  const pub = ed25519.getPublicKey(secret)
  const message = new Uint8Array(signed.byteLength)
  const rawSig = ed25519.sign(message, secret)

  const signPerSecond = rate(windowMs, () => signAs(identity, 'note', body))
  const verifyPerSecond = rate(windowMs, () => verify(signed, { type: 'note' }))
  const rawSignPerSecond = rate(windowMs, () => ed25519.sign(message, secret))
  const rawVerifyPerSecond = rate(windowMs, () => ed25519.verify(rawSig, message, pub))

  let started = performance.now()
  const backup = await exportBackup(identity, 'benchmark passphrase')
  const backupExportMs = performance.now() - started
  started = performance.now()
  await importBackup(backup, 'benchmark passphrase')
  const backupImportMs = performance.now() - started
  return {
    signPerSecond,
    verifyPerSecond,
    rawSignPerSecond,
    rawVerifyPerSecond,
    backupExportMs,
    backupImportMs
  }
}
