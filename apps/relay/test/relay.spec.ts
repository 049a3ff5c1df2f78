import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AddressInUseError, startRelay } from '../src/index.ts'
import type { Relay } from '../src/index.ts'

const silent = pino({ level: 'silent' })
const BIN = new URL('../dist/src/bin.js', import.meta.url).pathname

describe('the relay', () => {
  let relay: Relay

  beforeAll(async () => {
    relay = await startRelay({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
      httpPort: 0,
      logger: silent
    })
  })

  afterAll(async () => {
    await relay.stop()
  })

  it('should report its health as JSON', async () => {
    const response = await fetch(`${relay.httpUrl}/health`)
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({ peerId: relay.peerId, connections: 0, reservations: 0 })
    expect(body.uptimeSeconds).toBeTypeOf('number')
  })

  it('should list the WebSockets addresses browsers dial at /bootstrap', async () => {
    const body = (await (await fetch(`${relay.httpUrl}/bootstrap`)).json()) as {
      peerId: string
      multiaddrs: string[]
    }
    expect(body.peerId).toBe(relay.peerId)
    expect(body.multiaddrs.length).toBeGreaterThan(0)
    for (const ma of body.multiaddrs) {
      expect(ma).toContain('/ws/')
      expect(ma).toMatch(new RegExp(`/p2p/${relay.peerId}$`))
    }
  })

  it('should serve Prometheus metrics', async () => {
    const response = await fetch(`${relay.httpUrl}/metrics`)
    expect(response.headers.get('content-type')).toContain('text/plain')
    const text = await response.text()
    expect(text).toContain('kith_relay_connections')
    expect(text).toContain('kith_relay_reservations')
    expect(text).toContain('libp2p_')
  })

  it('should answer 404 for unknown paths and 405 for writes', async () => {
    expect((await fetch(`${relay.httpUrl}/nope`)).status).toBe(404)
    expect((await fetch(`${relay.httpUrl}/health`, { method: 'POST', body: 'x' })).status).toBe(405)
  })

  it('should fail with AddressInUseError when the HTTP port is taken', async () => {
    const port = Number(new URL(relay.httpUrl).port)
    await expect(
      startRelay({
        privateKey: await generateKeyPair('Ed25519'),
        listen: ['/ip4/127.0.0.1/tcp/0/ws'],
        httpPort: port,
        logger: silent
      })
    ).rejects.toMatchObject({ name: AddressInUseError.name })
  })
})

describe('the kith-relay command', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kith-cli-'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const run = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
        timeout: 20_000
      })
      return { code: 0, stdout, stderr }
    } catch (err: unknown) {
      const e = err as { code: number; stdout: string; stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }

  it('should print its help and exit 0', async () => {
    const result = await run(['--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('Usage: kith-relay')
  })

  it('should exit 2 with one line for a bad flag', async () => {
    const result = await run(['--bogus'])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('--bogus')
  })

  it('should exit 2 with one line when a listen port is in use', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as { port: number }).port
    try {
      const result = await run([
        '--key-file',
        join(dir, 'k1'),
        '--listen',
        `/ip4/127.0.0.1/tcp/${port}/ws`,
        '--http-port',
        '0'
      ])
      expect(result.code).toBe(2)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toContain('in use')
    } finally {
      blocker.close()
    }
  })

  it('should exit 2 with one line for an unreadable key file', async () => {
    const result = await run(['--key-file', dir, '--listen', '/ip4/127.0.0.1/tcp/0/ws', '--http-port', '0'])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('key file')
  })
})
