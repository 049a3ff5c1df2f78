import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from './errors.ts'

export interface RelayConfig {
  /** Multiaddrs to listen on (TCP and WebSockets). */
  listen: string[]
  /** Multiaddrs to announce instead of the listen addresses, e.g. a public `/dns4/…/tcp/443/wss`. */
  announce: string[]
  /** Where the relay's private key lives. */
  keyFile: string
  /** Other relays to join, each ending in `/p2p/<peer id>`. */
  bootstrap: string[]
  maxConnections: number
  maxReservations: number
  /** How long one relayed (signaling) connection may last. */
  relayDurationMs: number
  /** How many bytes one relayed (signaling) connection may carry each way. */
  relayBytes: number
  httpHost: string
  httpPort: number
  /** Keep private and loopback addresses in DHT answers (LANs, local runs). */
  allowPrivateAddresses: boolean
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
}

export const DEFAULT_CONFIG: RelayConfig = {
  listen: ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4003/ws'],
  announce: [],
  keyFile: 'kith-relay.key',
  bootstrap: [],
  maxConnections: 1_024,
  maxReservations: 512,
  relayDurationMs: 120_000,
  relayBytes: 131_072,
  httpHost: '127.0.0.1',
  httpPort: 8_080,
  allowPrivateAddresses: false,
  logLevel: 'info'
}

interface Option {
  flag: string
  env: string
  kind: 'list' | 'string' | 'int' | 'bool'
  key: keyof RelayConfig
  help: string
}

const OPTIONS: Option[] = [
  {
    flag: 'listen',
    env: 'KITH_RELAY_LISTEN',
    kind: 'list',
    key: 'listen',
    help: 'multiaddr to listen on (repeat; WebSockets for browsers, TCP for Node peers)'
  },
  {
    flag: 'announce',
    env: 'KITH_RELAY_ANNOUNCE',
    kind: 'list',
    key: 'announce',
    help: 'multiaddr to announce instead, e.g. /dns4/relay.example/tcp/443/wss (repeat)'
  },
  {
    flag: 'key-file',
    env: 'KITH_RELAY_KEY_FILE',
    kind: 'string',
    key: 'keyFile',
    help: 'private key file, created with mode 0600 on first start'
  },
  {
    flag: 'bootstrap',
    env: 'KITH_RELAY_BOOTSTRAP',
    kind: 'list',
    key: 'bootstrap',
    help: 'another relay to join, ending in /p2p/<peer id> (repeat)'
  },
  {
    flag: 'max-connections',
    env: 'KITH_RELAY_MAX_CONNECTIONS',
    kind: 'int',
    key: 'maxConnections',
    help: 'connections held at most'
  },
  {
    flag: 'max-reservations',
    env: 'KITH_RELAY_MAX_RESERVATIONS',
    kind: 'int',
    key: 'maxReservations',
    help: 'relay reservations held at most'
  },
  {
    flag: 'relay-duration-ms',
    env: 'KITH_RELAY_DURATION_MS',
    kind: 'int',
    key: 'relayDurationMs',
    help: 'lifetime of one relayed signaling connection'
  },
  {
    flag: 'relay-bytes',
    env: 'KITH_RELAY_BYTES',
    kind: 'int',
    key: 'relayBytes',
    help: 'bytes one relayed signaling connection may carry each way'
  },
  {
    flag: 'http-host',
    env: 'KITH_RELAY_HTTP_HOST',
    kind: 'string',
    key: 'httpHost',
    help: 'interface for /health, /metrics and /bootstrap'
  },
  {
    flag: 'http-port',
    env: 'KITH_RELAY_HTTP_PORT',
    kind: 'int',
    key: 'httpPort',
    help: 'port for /health, /metrics and /bootstrap (0: any free port)'
  },
  {
    flag: 'allow-private-addresses',
    env: 'KITH_RELAY_ALLOW_PRIVATE_ADDRESSES',
    kind: 'bool',
    key: 'allowPrivateAddresses',
    help: 'keep private and loopback addresses in DHT answers (LAN or local use)'
  },
  {
    flag: 'log-level',
    env: 'KITH_RELAY_LOG_LEVEL',
    kind: 'string',
    key: 'logLevel',
    help: 'fatal, error, warn, info, debug, trace or silent'
  }
]

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

export function usage(): string {
  const lines = [
    'Usage: kith-relay [options]',
    '',
    'The Kith bootstrap relay: browsers reserve a slot on it to be reachable, signal WebRTC connections through it',
    'and find each other through its DHT (/kith/kad/1.0.0). It keeps nothing at rest but its key file.',
    '',
    'Options (each also read from the environment variable shown; a flag wins over the variable):'
  ]
  for (const option of OPTIONS) {
    const value = DEFAULT_CONFIG[option.key]
    const shown = Array.isArray(value) ? value.join(' ') : String(value)
    const name =
      option.kind === 'bool'
        ? `--${option.flag}`
        : `--${option.flag} <${option.kind === 'int' ? 'n' : 'value'}>`
    lines.push(`  ${name.padEnd(30)} ${option.help}`)
    lines.push(`  ${''.padEnd(30)} env ${option.env}${shown === '' ? '' : `, default ${shown}`}`)
  }
  lines.push('  --help                         show this text', '')
  lines.push(
    'Lists from the environment are comma-separated. Example, public on port 443 behind a TLS proxy:'
  )
  lines.push('  kith-relay --listen /ip4/0.0.0.0/tcp/4003/ws --announce /dns4/relay.example.org/tcp/443/wss')
  return lines.join('\n')
}

/** Reads flags and environment into a checked config; throws `ConfigError` naming the bad input. */
export function parseConfig(argv: string[], env: Record<string, string | undefined>): RelayConfig | 'help' {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean' },
        ...Object.fromEntries(
          OPTIONS.map((o) => [
            o.flag,
            { type: o.kind === 'bool' ? 'boolean' : 'string', multiple: o.kind === 'list' }
          ])
        )
      }
    })
  } catch (err: unknown) {
    throw new ConfigError((err as Error).message.split('\n')[0] ?? 'bad arguments')
  }
  if (parsed.values.help === true) return 'help'

  const config: Record<string, unknown> = { ...DEFAULT_CONFIG }
  for (const option of OPTIONS) {
    const fromFlag = parsed.values[option.flag]
    const fromEnv = env[option.env]
    if (fromFlag === undefined && (fromEnv === undefined || fromEnv === '')) continue
    const source = fromFlag !== undefined ? `--${option.flag}` : option.env
    config[option.key] = convert(option, fromFlag ?? fromEnv, source)
  }
  const result = config as unknown as RelayConfig
  validate(result)
  return result
}

function convert(option: Option, raw: unknown, source: string): unknown {
  switch (option.kind) {
    case 'list': {
      const values = Array.isArray(raw) ? (raw as string[]) : String(raw).split(',')
      return values.map((v) => v.trim()).filter((v) => v !== '')
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw
      if (['1', 'true', 'yes'].includes(String(raw).toLowerCase())) return true
      if (['0', 'false', 'no'].includes(String(raw).toLowerCase())) return false
      throw new ConfigError(`${source} must be true or false, got "${String(raw)}"`)
    case 'int': {
      const text = String(raw)
      const value = Number(text)
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
        throw new ConfigError(`${source} must be a whole number, got "${text}"`)
      }
      return value
    }
    case 'string':
      return String(raw)
  }
}

function validate(config: RelayConfig): void {
  const check = (name: string, values: string[], needsPeerId: boolean): void => {
    for (const value of values) {
      try {
        const ma = multiaddr(value)
        if (needsPeerId && !ma.getComponents().some((c) => c.name === 'p2p')) {
          throw new ConfigError(`--${name} "${value}" must end in /p2p/<peer id>`)
        }
      } catch (err: unknown) {
        if (err instanceof ConfigError) throw err
        throw new ConfigError(`--${name} "${value}" is not a multiaddr`)
      }
    }
  }
  if (config.listen.length === 0) throw new ConfigError('--listen needs at least one address')
  check('listen', config.listen, false)
  check('announce', config.announce, false)
  check('bootstrap', config.bootstrap, true)
  for (const key of ['maxConnections', 'maxReservations', 'relayDurationMs', 'relayBytes'] as const) {
    if (config[key] <= 0) throw new ConfigError(`${key} must be greater than 0`)
  }
  if (config.httpPort > 65_535) throw new ConfigError('--http-port must be at most 65535')
  if (config.keyFile === '') throw new ConfigError('--key-file must not be empty')
  if (!LOG_LEVELS.has(config.logLevel)) {
    throw new ConfigError(
      `--log-level must be one of ${[...LOG_LEVELS].join(', ')}, got "${config.logLevel}"`
    )
  }
}
