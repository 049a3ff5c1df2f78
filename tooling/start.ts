// `npm start`: a relay on 127.0.0.1 and the demo beside it, until Ctrl-C. Run through tooling/bootstrap.mjs, which
// provides Node 24 and the build first.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { startRelay } from '@kith/relay'
import { serveStatic } from '@kith/devtools'

const ROOT = join(import.meta.dirname, '..')
const DEMO_DIST = join(ROOT, 'apps', 'demo', 'dist')
const port = (name: string, fallback: number): number => Number(process.env[name] ?? fallback)

if (!existsSync(join(DEMO_DIST, 'index.html'))) {
  process.stderr.write('[kith] the demo is not built: run npm start (it builds) or pnpm build\n')
  process.exit(1)
}

const relay = await startRelay({
  // a stable key keeps the relay's address, and so every open page's reservation, across restarts
  keyFile: join(ROOT, '.kith', 'relay.key'),
  listen: [
    `/ip4/127.0.0.1/tcp/${port('KITH_RELAY_TCP_PORT', 4001)}`,
    `/ip4/127.0.0.1/tcp/${port('KITH_RELAY_WS_PORT', 4003)}/ws`
  ],
  httpPort: port('KITH_RELAY_HTTP_PORT', 8080),
  allowPrivateAddresses: true,
  logLevel: (process.env.KITH_RELAY_LOG_LEVEL as 'info' | undefined) ?? 'warn'
}).catch((err: unknown) => {
  process.stderr.write(`[kith] the relay could not start: ${(err as Error).message}\n`)
  process.stderr.write(
    '[kith] set KITH_RELAY_WS_PORT, KITH_RELAY_TCP_PORT or KITH_RELAY_HTTP_PORT to use other ports\n'
  )
  process.exit(1)
})

const demo = await serveStatic({
  root: DEMO_DIST,
  port: port('KITH_DEMO_PORT', 5173),
  config: { relays: relay.browserMultiaddrs, relayHttp: relay.httpUrl }
}).catch(async (err: unknown) => {
  await relay.stop()
  process.stderr.write(
    `[kith] the demo server could not start: ${(err as Error).message} (set KITH_DEMO_PORT)\n`
  )
  process.exit(1)
})

process.stdout.write(
  [
    '',
    `  Kith demo     ${demo.url}   (each tab is its own peer: create a room in one, open its invite link in another and type the PIN)`,
    `  Relay         ${relay.browserMultiaddrs.join(' ')}`,
    `  Relay health  ${relay.httpUrl}/health   metrics ${relay.httpUrl}/metrics`,
    '',
    '  Ctrl-C stops both.',
    ''
  ].join('\n')
)

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    process.stdout.write('\n[kith] stopping…\n')
    void Promise.allSettled([demo.close(), relay.stop()]).then(() => process.exit(0))
  })
}
