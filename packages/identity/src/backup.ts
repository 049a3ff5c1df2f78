import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { BACKUP_SCRYPT, MAX_BACKUP_BYTES, MAX_BACKUP_SCRYPT_N, VERSION } from './constants.ts'
import { decode, encode, read } from './encoding.ts'
import { InvalidBackupError, InvalidParametersError, WrongPassphraseError } from './errors.ts'
import { identityFromBytes, identityToBytes } from './identity.ts'
import type { Identity } from './identity.ts'

const MAGIC = 'kith-identity-backup'

export interface BackupOptions {
  /** scrypt cost; stored in the backup. @default { N: 2 ** 17, r: 8, p: 1 } (128 MiB) */
  scrypt?: { N: number; r: number; p: number }
}

async function keyFrom(
  passphrase: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number }
): Promise<Uint8Array> {
  return scryptAsync(passphrase.normalize('NFKC'), salt, { ...params, dkLen: 32, maxmem: 2 ** 31 })
}

/**
 * Encrypts an identity under a passphrase: scrypt (memory-hard) derives the key, XChaCha20-Poly1305 seals the
 * identity, and the header (format, KDF parameters, salt, nonce) is bound as associated data, so nothing in the
 * backup can be changed without the passphrase check failing.
 */
export async function exportBackup(
  identity: Identity,
  passphrase: string,
  options: BackupOptions = {}
): Promise<Uint8Array> {
  if (passphrase.length < 8) throw new InvalidParametersError('a backup passphrase has at least 8 characters')
  const scrypt = options.scrypt ?? BACKUP_SCRYPT
  const header = {
    m: MAGIC,
    v: VERSION,
    kdf: { N: scrypt.N, r: scrypt.r, p: scrypt.p, salt: randomBytes(16) },
    nonce: randomBytes(24)
  }
  const key = await keyFrom(passphrase, header.kdf.salt, scrypt)
  const ct = xchacha20poly1305(key, header.nonce, encode(header)).encrypt(identityToBytes(identity))
  return encode({ ...header, ct })
}

/** Opens a backup. A wrong passphrase gives `WrongPassphraseError`, anything unreadable `InvalidBackupError`. */
export async function importBackup(backup: Uint8Array, passphrase: string): Promise<Identity> {
  let header: {
    m: string
    v: number
    kdf: { N: number; r: number; p: number; salt: Uint8Array }
    nonce: Uint8Array
  }
  let ct: Uint8Array
  try {
    const map = read.map(decode(backup, MAX_BACKUP_BYTES), 'backup')
    read.keys(map, ['m', 'v', 'kdf', 'nonce', 'ct'], 'backup')
    if (read.string(map, 'm', 32) !== MAGIC) throw new InvalidBackupError('not a Kith identity backup')
    if (read.uint(map, 'v') !== VERSION)
      throw new InvalidBackupError(`backup version ${String(map.v)} is not supported`)
    const kdf = read.map(map.kdf, 'kdf')
    read.keys(kdf, ['N', 'r', 'p', 'salt'], 'kdf')
    header = {
      m: MAGIC,
      v: VERSION,
      kdf: {
        N: read.uint(kdf, 'N'),
        r: read.uint(kdf, 'r'),
        p: read.uint(kdf, 'p'),
        salt: read.bytes(kdf, 'salt', 16)
      },
      nonce: read.bytes(map, 'nonce', 24)
    }
    ct = read.bytes(map, 'ct')
  } catch (err: unknown) {
    if (err instanceof InvalidBackupError) throw err
    throw new InvalidBackupError('the backup is damaged or not a backup', { cause: err })
  }
  const { N, r, p } = header.kdf
  if (N < 2 ** 10 || N > MAX_BACKUP_SCRYPT_N || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) {
    throw new InvalidBackupError('the backup asks for key-derivation costs outside the accepted range')
  }
  const key = await keyFrom(passphrase, header.kdf.salt, header.kdf)
  let plain: Uint8Array
  try {
    plain = xchacha20poly1305(key, header.nonce, encode(header)).decrypt(ct)
  } catch {
    throw new WrongPassphraseError()
  }
  try {
    return identityFromBytes(plain)
  } catch (err: unknown) {
    throw new InvalidBackupError('the backup opened but holds no identity', { cause: err })
  }
}
