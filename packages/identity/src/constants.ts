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

/** DHT records of discovery claims live under `/kith-claim/<base32 of the identifier's hash>`. */
export const DISCOVERY_NAMESPACE = 'kith-claim'
export const DISCOVERY_CLAIM_TYPE = 'discovery-claim'

/**
 * scrypt cost of turning an identifier (an email address) into its DHT key: 32 MiB and about 0.1–0.2 s, paid once
 * per identifier by whoever publishes or looks it up, and by anyone guessing identifiers (see the README).
 */
export const DISCOVERY_SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const

/** Identifiers longer than this are refused (an email address has at most 320 characters). */
export const MAX_IDENTIFIER_LENGTH = 320

/** One claim, device certificates included. */
export const MAX_CLAIM_BYTES = 4 * 1024
/** Devices one claim may list. */
export const MAX_CLAIM_DEVICES = 8
/** Distinct users one identifier's record holds; past it, claims already held stay and new users are refused. */
export const MAX_CLAIMANTS = 16
/** One record: every claimant's claim. */
export const MAX_CLAIM_RECORD_BYTES = MAX_CLAIMANTS * MAX_CLAIM_BYTES + 64

/** A claim is valid for at most this long after it is made (clocks may run 5 minutes ahead on top). */
export const MAX_CLAIM_TTL_MS = 30 * 24 * 60 * 60 * 1000
export const DEFAULT_CLAIM_TTL_MS = 7 * 24 * 60 * 60 * 1000
export const CLOCK_SKEW_MS = 5 * 60 * 1000
