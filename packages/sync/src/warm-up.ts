// The edit path's code, run in a loop once so the JIT compiles it before the first edit. At one edit every 100 ms a
// page runs that code cold: in Chromium, opening a 120-byte sealed message with noble's XChaCha20-Poly1305 took
// 0.4 ms (median of 30, 100 ms apart) against 0.1 ms after a few thousand calls in a loop, and each edit is sealed
// by its author and opened by each receiver. y-webrtc, which seals nothing, has fewer layers to run cold.
import { openData, packedEpoch, sealPacked } from '@kith/trust'
import { decodeFrame, encodeFrame } from './frames.ts'
import type { Frame } from './frames.ts'

/** Rounds of the warm-up: enough for V8 to optimize the cipher and the frame codec (a few ms in all). */
export const WARM_UP_ROUNDS = 300

/**
 * Seals, opens, encodes and decodes `rounds` throwaway update frames with a throwaway key. Nothing is kept and
 * nothing leaves the process; it only makes the same functions fast when real updates come.
 */
export function warmUp(rounds = WARM_UP_ROUNDS): void {
  const key = new Uint8Array(32).fill(7)
  const aad = new Uint8Array(48).fill(1)
  const frame: Frame = {
    t: 'u',
    d: 'warm-up',
    o: '12D3KooWPiyRYbjeGmbbMW78AadZ5as6N2hk6iDNnZVicF7M9Qq6',
    s: new Uint8Array(0),
    b: new Uint8Array(96).fill(3)
  }
  for (let i = 0; i < rounds; i++) {
    const sealed = sealPacked(key, i, encodeFrame(frame), aad)
    decodeFrame(openData(key, packedEpoch(sealed), aad))
  }
}
