// In-memory channels for protocol tests: two ends, with an optional tamper hook per direction.
import { decode, encode } from '../src/index.ts'
import type { SasChannel } from '../src/index.ts'

/** A queue of messages one way. */
class Pipe {
  private readonly queue: Uint8Array[] = []
  private waiting?: (bytes: Uint8Array) => void
  push(bytes: Uint8Array): void {
    if (this.waiting != null) {
      const wake = this.waiting
      this.waiting = undefined
      wake(bytes)
    } else this.queue.push(bytes)
  }
  async pull(): Promise<Uint8Array> {
    const next = this.queue.shift()
    if (next != null) return next
    return new Promise((resolve) => (this.waiting = resolve))
  }
}

/** Two connected channels; `tamper` may rewrite what the initiator sends and what the responder sends. */
export function channels(
  tamper: { toResponder?: (m: any) => any; toInitiator?: (m: any) => any } = {}
): [SasChannel, SasChannel] {
  const ab = new Pipe()
  const ba = new Pipe()
  const rewrite = (f: ((m: any) => any) | undefined, bytes: Uint8Array): Uint8Array =>
    f == null ? bytes : encode(f(decode(bytes, 1 << 16)))
  return [
    { read: async () => ba.pull(), write: (b) => Promise.resolve(ab.push(rewrite(tamper.toResponder, b))) },
    { read: async () => ab.pull(), write: (b) => Promise.resolve(ba.push(rewrite(tamper.toInitiator, b))) }
  ]
}
