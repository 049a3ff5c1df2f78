// Trust measurements that run the same way in Node and in the benchmark page.
import { CPaceSession } from '@kith/trust'
import { x25519 } from '@noble/curves/ed25519.js'
import { rate } from './identity-ops.ts'

export interface CPaceOps {
  /** Complete CPace runs per second: both parties, generator, shares and keys (what one invite costs in CPU). */
  handshakesPerSecond: number
  /** Anchor: unauthenticated X25519 exchanges (two key pairs, two shared secrets) per second. */
  x25519PerSecond: number
}

export function measureCPace(windowMs = 1_000): CPaceOps {
  const prs = new Uint8Array(40).fill(7)
  const ci = new Uint8Array(80).fill(1)
  const empty = new Uint8Array(0)
  const handshakesPerSecond = rate(windowMs, () => {
    const sid = crypto.getRandomValues(new Uint8Array(32))
    const a = new CPaceSession({ prs, ci, sid, ad: empty, role: 'initiator' })
    const b = new CPaceSession({ prs, ci, sid, ad: empty, role: 'responder' })
    a.finish(b.share, empty)
    b.finish(a.share, empty)
  })
  const x25519PerSecond = rate(windowMs, () => {
    const a = x25519.utils.randomSecretKey()
    const b = x25519.utils.randomSecretKey()
    x25519.getSharedSecret(a, x25519.getPublicKey(b))
    x25519.getSharedSecret(b, x25519.getPublicKey(a))
  })
  return { handshakesPerSecond, x25519PerSecond }
}
