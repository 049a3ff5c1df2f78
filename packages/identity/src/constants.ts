/** Version of every signed statement and of the backup format. */
export const VERSION = 1

/** The largest signed statement `verify` reads, certificate included. */
export const MAX_STATEMENT_BYTES = 64 * 1024

/** The largest backup `importBackup` reads. */
export const MAX_BACKUP_BYTES = 64 * 1024

/** Statement types: lowercase letters, digits and dashes, used in the signing domain `kith/<type>/v1`. */
export const TYPE_PATTERN = /^[a-z][a-z0-9-]{0,31}$/

export const DEVICE_CERT_TYPE = 'device-cert'
export const DEVICE_REVOKE_TYPE = 'device-revoke'
export const ENC_KEY_TYPE = 'enc-key'

export const MAX_DEVICE_NAME_LENGTH = 64

/** scrypt cost for backups: 128 MiB and about a second; stored in each backup so it can rise later. */
export const BACKUP_SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const

/** The highest scrypt cost a backup may ask for, so a crafted backup cannot exhaust memory (1 GiB). */
export const MAX_BACKUP_SCRYPT_N = 2 ** 20

/** Signal's iteration count for safety numbers. */
export const SAFETY_NUMBER_ITERATIONS = 5_200

/** Stands in for Signal's phone number: a Kith user is identified by the root key alone. */
export const SAFETY_NUMBER_STABLE_ID = 'kith-user-v1'
