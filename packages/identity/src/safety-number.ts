import { sha512 } from '@noble/hashes/sha2.js'
import { compare } from 'uint8arrays/compare'
import { concat } from 'uint8arrays/concat'
import { equals } from 'uint8arrays/equals'
import { fromString } from 'uint8arrays/from-string'
import { SAFETY_NUMBER_ITERATIONS, SAFETY_NUMBER_STABLE_ID, VERSION } from './constants.ts'
import { decode, encode, read } from './encoding.ts'
import { InvalidParametersError } from './errors.ts'

/** The 64 emoji of Matrix's SAS table (index = 6-bit value), with names for screen readers. */
export const EMOJI: readonly (readonly [string, string])[] = [
  ['🐶', 'Dog'],
  ['🐱', 'Cat'],
  ['🦁', 'Lion'],
  ['🐎', 'Horse'],
  ['🦄', 'Unicorn'],
  ['🐷', 'Pig'],
  ['🐘', 'Elephant'],
  ['🐰', 'Rabbit'],
  ['🐼', 'Panda'],
  ['🐓', 'Rooster'],
  ['🐧', 'Penguin'],
  ['🐢', 'Turtle'],
  ['🐟', 'Fish'],
  ['🐙', 'Octopus'],
  ['🦋', 'Butterfly'],
  ['🌷', 'Flower'],
  ['🌳', 'Tree'],
  ['🌵', 'Cactus'],
  ['🍄', 'Mushroom'],
  ['🌏', 'Globe'],
  ['🌙', 'Moon'],
  ['☁️', 'Cloud'],
  ['🔥', 'Fire'],
  ['🍌', 'Banana'],
  ['🍎', 'Apple'],
  ['🍓', 'Strawberry'],
  ['🌽', 'Corn'],
  ['🍕', 'Pizza'],
  ['🎂', 'Cake'],
  ['❤️', 'Heart'],
  ['😀', 'Smiley'],
  ['🤖', 'Robot'],
  ['🎩', 'Hat'],
  ['👓', 'Glasses'],
  ['🔧', 'Spanner'],
  ['🎅', 'Santa'],
  ['👍', 'Thumbs Up'],
  ['☂️', 'Umbrella'],
  ['⌛', 'Hourglass'],
  ['⏰', 'Clock'],
  ['🎁', 'Gift'],
  ['💡', 'Light Bulb'],
  ['📕', 'Book'],
  ['✏️', 'Pencil'],
  ['📎', 'Paperclip'],
  ['✂️', 'Scissors'],
  ['🔒', 'Lock'],
  ['🔑', 'Key'],
  ['🔨', 'Hammer'],
  ['☎️', 'Telephone'],
  ['🏁', 'Flag'],
  ['🚂', 'Train'],
  ['🚲', 'Bicycle'],
  ['✈️', 'Aeroplane'],
  ['🚀', 'Rocket'],
  ['🏆', 'Trophy'],
  ['⚽', 'Ball'],
  ['🎸', 'Guitar'],
  ['🎺', 'Trumpet'],
  ['🔔', 'Bell'],
  ['⚓', 'Anchor'],
  ['🎧', 'Headphones'],
  ['📁', 'Folder'],
  ['📌', 'Pin']
] as const

export interface SafetyNumber {
  /** 60 digits: both users' 30-digit fingerprints, lower first, so both people see the same number. */
  digits: string
  /** The same digits in 12 groups of 5, as people read them out. */
  groups: string[]
  /** 12 emoji from the same two fingerprints. */
  emoji: { emoji: string; name: string }[]
  /** What a QR code carries: both fingerprints, sorted, in canonical DAG-CBOR. */
  qr: Uint8Array
}

/**
 * Signal's fingerprint of one user: SHA-512 iterated 5200 times over (version ‖ key ‖ stable id), then key. Kith has
 * no phone numbers; the stable id is a constant and the user is the root key alone, so the number does not change
 * when devices come and go.
 */
export function fingerprint(user: Uint8Array): Uint8Array {
  if (user.byteLength !== 32) throw new InvalidParametersError('a user root key has 32 bytes')
  let hash = concat([new Uint8Array([0, 0]), user, fromString(SAFETY_NUMBER_STABLE_ID)])
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) hash = sha512(concat([hash, user]))
  return hash
}

function digitsOf(fp: Uint8Array): string {
  let out = ''
  for (let offset = 0; offset < 30; offset += 5) {
    let chunk = 0
    for (let i = 0; i < 5; i++) chunk = chunk * 256 + (fp[offset + i] ?? 0)
    out += String(chunk % 100_000).padStart(5, '0')
  }
  return out
}

/** The safety number two users compare; the same on both sides whatever the order of the arguments. */
export function safetyNumber(a: Uint8Array, b: Uint8Array): SafetyNumber {
  const [low, high] = [fingerprint(a), fingerprint(b)].sort((x, y) =>
    compare(x.subarray(0, 32), y.subarray(0, 32))
  )
  if (low == null || high == null) throw new InvalidParametersError('two keys are needed')
  const digits = [digitsOf(low), digitsOf(high)].sort().join('')
  const mixed = sha512(concat([low.subarray(0, 32), high.subarray(0, 32)]))
  const emoji: { emoji: string; name: string }[] = []
  for (let i = 0; i < 12; i++) {
    // 6 bits each from the first 9 bytes
    const bit = i * 6
    const byte = Math.floor(bit / 8)
    const value = ((((mixed[byte] ?? 0) << 8) | (mixed[byte + 1] ?? 0)) >> (10 - (bit % 8))) & 0x3f
    const [symbol, name] = EMOJI[value] ?? ['?', '?']
    emoji.push({ emoji: symbol, name })
  }
  return {
    digits,
    groups: digits.match(/.{5}/g) ?? [],
    emoji,
    qr: encode({ v: VERSION, fp: [low.subarray(0, 32), high.subarray(0, 32)] })
  }
}

/** True when a scanned QR payload shows the same pair of users as `a` and `b`. */
export function matchesSafetyNumberQr(scanned: Uint8Array, a: Uint8Array, b: Uint8Array): boolean {
  try {
    const map = read.map(decode(scanned, 256), 'safety number')
    read.keys(map, ['v', 'fp'], 'safety number')
    return read.uint(map, 'v') === VERSION && equals(encode(map), safetyNumber(a, b).qr)
  } catch {
    return false
  }
}
