import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_CONFIG, parseConfig, usage } from '../src/index.ts'

const PEER = '12D3KooWJSS3L3hLhhwNLUiwensY2CPiPgXTqgQGMvaxkYcrhsaF'

describe('parseConfig', () => {
  it('should use the defaults with no flags and no environment', () => {
    expect(parseConfig([], {})).toEqual(DEFAULT_CONFIG)
  })

  it('should read repeated flags, numbers and booleans', () => {
    const config = parseConfig(
      [
        '--listen',
        '/ip4/0.0.0.0/tcp/4003/ws',
        '--listen',
        '/ip4/0.0.0.0/tcp/4001',
        '--bootstrap',
        `/ip4/10.0.0.2/tcp/4001/p2p/${PEER}`,
        '--max-reservations',
        '64',
        '--allow-private-addresses'
      ],
      {}
    )
    expect(config).toMatchObject({
      listen: ['/ip4/0.0.0.0/tcp/4003/ws', '/ip4/0.0.0.0/tcp/4001'],
      bootstrap: [`/ip4/10.0.0.2/tcp/4001/p2p/${PEER}`],
      maxReservations: 64,
      allowPrivateAddresses: true
    })
  })

  it('should read the environment, and let a flag win over it', () => {
    const env = {
      KITH_RELAY_LISTEN: '/ip4/127.0.0.1/tcp/1/ws, /ip4/127.0.0.1/tcp/2',
      KITH_RELAY_HTTP_PORT: '9000',
      KITH_RELAY_ALLOW_PRIVATE_ADDRESSES: 'yes'
    }
    const config = parseConfig(['--http-port', '9100'], env)
    expect(config).toMatchObject({
      listen: ['/ip4/127.0.0.1/tcp/1/ws', '/ip4/127.0.0.1/tcp/2'],
      httpPort: 9100,
      allowPrivateAddresses: true
    })
  })

  it('should answer help', () => {
    expect(parseConfig(['--help'], {})).toBe('help')
    expect(usage()).toContain('--key-file')
    expect(usage()).toContain('KITH_RELAY_BOOTSTRAP')
  })

  it.each([
    [['--bogus'], {}, 'bogus'],
    [['--listen', 'not-a-multiaddr'], {}, 'not a multiaddr'],
    [['--bootstrap', '/ip4/127.0.0.1/tcp/4001'], {}, '/p2p/'],
    [['--max-connections', '12abc'], {}, 'whole number'],
    [['--max-connections', '0'], {}, 'greater than 0'],
    [['--http-port', '70000'], {}, '65535'],
    [['--log-level', 'loud'], {}, 'log-level'],
    [[], { KITH_RELAY_ALLOW_PRIVATE_ADDRESSES: 'maybe' }, 'true or false'],
    [['extra'], {}, 'extra']
  ] as [string[], Record<string, string>, string][])(
    'should refuse %j %j with a ConfigError naming the problem',
    (argv, env, text) => {
      expect(() => parseConfig(argv, env)).toThrow(expect.objectContaining({ name: ConfigError.name }))
      expect(() => parseConfig(argv, env)).toThrow(new RegExp(text.replace(/[/]/g, '\\/')))
    }
  )
})
