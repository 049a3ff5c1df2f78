// `pnpm bench`: starts a relay and the benchmark page, opens two Chromium pages as two peers and measures
//   - connect: 100 fresh browser-to-browser dials through the relay (min, median, p95, failures)
//   - echo: 300 round trips of 32 bytes over one libp2p stream, and over a raw RTCDataChannel between the same pages
//   - throughput: 64 MiB over one libp2p stream, and over the raw channel
// then writes bench/results/<name>.json and bench/results/latest.md and prints the table.
// and the shared-state comparison with y-webrtc (sync-bench.ts). BENCH_ONLY=sync runs that part alone and writes
// bench/results/sync.{json,md}.
// Options: BENCH_DIALS, BENCH_ECHOES, BENCH_MIB override the counts (for a quick run); BENCH_DEBUG=<namespaces>
// writes both pages' libp2p logs around each dial to results/debug-{a,b}.log.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CHROMIUM_ARGS, chromiumPath, serveStatic, startRelayProcess } from '@kith/devtools'
import { chromium } from 'playwright-core'
import { measureDiscovery } from './discovery.ts'
import { measureIdentity } from './identity-ops.ts'
import { measureCPace } from './trust-ops.ts'
import type { CPaceOps } from './trust-ops.ts'
import { fixed, summarize, table } from './stats.ts'
import { measureSync, renderSync } from './sync-bench.ts'
import type { DiscoveryFigures } from './discovery.ts'
import type { IdentityOps } from './identity-ops.ts'
import type { Summary } from './stats.ts'
import type { Page } from 'playwright-core'

const DIALS = Number(process.env.BENCH_DIALS ?? 100)
const ECHOES = Number(process.env.BENCH_ECHOES ?? 300)
const MIB = Number(process.env.BENCH_MIB ?? 64)
const DHT_PEERS = Number(process.env.BENCH_DHT_PEERS ?? 30)
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 40)
const JOINS = Number(process.env.BENCH_JOINS ?? 20)
const PAGE_DIST = fileURLToPath(new URL('../dist', import.meta.url))
const RESULTS = fileURLToPath(new URL('../results', import.meta.url))

interface Bench {
  measureIdentity(windowMs?: number): Promise<IdentityOps>
  start(relays: string[]): Promise<string>
  startPlain(relays: string[]): Promise<string>
  dialPlain(addr: string): Promise<{ ok: boolean; ms: number; kind?: string; error?: string }>
  hangUp(target: string): Promise<void>
  waitGone(target: string, ms: number): Promise<number>
  dial(target: string): Promise<{ ok: boolean; ms: number; kind?: string; error?: string }>
  echo(target: string, count: number): Promise<number[]>
  throughput(target: string, bytes: number): Promise<number>
  rawOffer(): Promise<string>
  rawAnswer(offer: string): Promise<string>
  rawAccept(answer: string): Promise<void>
  rawEcho(count: number): Promise<number[]>
  rawThroughput(bytes: number): Promise<number>
  measureCPace(windowMs?: number): Promise<CPaceOps>
  roomInvite(): Promise<{ link: string; pin: string }>
  roomJoin(link: string, pin: string, inviter: string): Promise<number>
}

type Call = <M extends keyof Bench>(method: M, ...args: Parameters<Bench[M]>) => ReturnType<Bench[M]>

/** Calls `window.bench[method](...args)` in `page`. */
function caller(page: Page): Call {
  return ((method: keyof Bench, ...args: unknown[]) =>
    page.evaluate(
      ([m, a]) =>
        (window as unknown as { bench: Record<string, (...x: unknown[]) => unknown> }).bench[m]?.(...a),
      [method, args] as const
    )) as Call
}

function progress(line: string): void {
  process.stderr.write(`\r\x1b[2K${line}`)
}

/** Whether a BENCH_* knob other than BENCH_ONLY narrows or changes the shared-state run. */
function syncRunIsPartial(): boolean {
  return Object.keys(process.env).some((key) => key.startsWith('BENCH_') && key !== 'BENCH_ONLY')
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kith-bench-'))
  const relay = await startRelayProcess({ keyFile: join(dir, 'relay.key') })
  const server = await serveStatic({ root: PAGE_DIST, config: { relays: relay.multiaddrs }, isolated: true })
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
  const syncEnv = { browser, url: server.url, relays: relay.multiaddrs, progress }
  try {
    if (process.env.BENCH_ONLY === 'sync') {
      const sync = await measureSync(syncEnv)
      process.stderr.write('\n')
      await mkdir(RESULTS, { recursive: true })
      // a run narrowed by a BENCH_* knob is an experiment: it must not replace the committed full table
      const name = syncRunIsPartial() ? 'sync-partial' : 'sync'
      await writeFile(join(RESULTS, `${name}.json`), JSON.stringify(sync, null, 2) + '\n')
      const markdown = renderSync(sync)
      await writeFile(join(RESULTS, `${name}.md`), markdown + '\n')
      process.stdout.write('\n' + markdown + '\n')
      return
    }
    const pages = await Promise.all([0, 1].map(async () => (await browser.newContext()).newPage()))
    const [a, b] = pages.map(caller) as [Call, Call]
    const debug = process.env.BENCH_DEBUG
    const logs: string[][] = [[], []]
    pages.forEach((page, i) => {
      if (debug != null) page.on('console', (msg) => logs[i]?.push(`${Date.now()} ${msg.text()}`))
    })
    // libp2p's logger reads localStorage.debug when it loads
    if (debug != null)
      for (const page of pages)
        await page.addInitScript(`localStorage.setItem('debug', ${JSON.stringify(debug)})`)
    for (const page of pages) await page.goto(server.url)
    const relays = relay.multiaddrs
    const idA = await a('start', relays)
    const idB = await b('start', relays)

    // connect
    const dials: { ok: boolean; ms: number; kind?: string; error?: string }[] = []
    for (let i = 0; i < DIALS; i++) {
      const mark = `${Date.now()} ===== dial ${i}`
      logs[0]?.push(mark)
      logs[1]?.push(mark)
      await a('hangUp', idB)
      if (process.env.BENCH_WAIT_GONE != null) await b('waitGone', idA, 15000)
      dials.push(await a('dial', idB))
      if (debug != null)
        logs.forEach((l) => l.push(`${Date.now()} ===== result ${JSON.stringify(dials.at(-1))}`))
      progress(`connect: ${i + 1}/${DIALS} dials, ${dials.filter((d) => !d.ok).length} failed`)
    }
    process.stderr.write('\n')
    const connected = dials.filter((d) => d.ok)
    const connect = summarize(connected.map((d) => d.ms))
    const notDirect = connected.filter((d) => d.kind !== 'webrtc').length
    const errors = [...new Set(dials.filter((d) => !d.ok).map((d) => d.error))]
    const kinds = [...new Set(connected.filter((d) => d.kind !== 'webrtc').map((d) => d.kind))]
    if (kinds.length > 0) process.stderr.write(`not direct: ${kinds.join(', ')}\n`)

    // anchor: plain js-libp2p 3 between two more pages, same relay, same count
    const plainPages = await Promise.all([0, 1].map(async () => (await browser.newContext()).newPage()))
    const [pa, pb] = plainPages.map(caller) as [Call, Call]
    for (const page of plainPages) await page.goto(server.url)
    await pa('startPlain', relays)
    const plainTarget = await pb('startPlain', relays)
    const plainDials: { ok: boolean; ms: number }[] = []
    for (let i = 0; i < DIALS; i++) {
      plainDials.push(await pa('dialPlain', plainTarget))
      progress(
        `connect (plain js-libp2p): ${i + 1}/${DIALS} dials, ${plainDials.filter((d) => !d.ok).length} failed`
      )
    }
    process.stderr.write('\n')
    await Promise.all(plainPages.map(async (page) => page.context().close()))
    const plainConnect = summarize(plainDials.filter((d) => d.ok).map((d) => d.ms))
    const plainFailed = plainDials.filter((d) => !d.ok).length

    // raw RTCDataChannel between the same two pages
    const offer = await a('rawOffer')
    const answer = await b('rawAnswer', offer)
    await a('rawAccept', answer)

    progress('echo…')
    const echoKith = summarize(await a('echo', idB, ECHOES))
    const echoRaw = summarize(await a('rawEcho', ECHOES))

    const bytes = MIB * 1024 * 1024
    // one warm-up each: the first bulk transfer on a connection is several times slower (NOTES.md)
    progress('throughput (warm-up)…')
    await a('throughput', idB, 4 * 1024 * 1024)
    await a('rawThroughput', 4 * 1024 * 1024)
    const kithMs: number[] = []
    const rawMs: number[] = []
    for (let round = 0; round < 3; round++) {
      progress(`throughput: round ${round + 1}/3…`)
      kithMs.push(await a('throughput', idB, bytes))
      rawMs.push(await a('rawThroughput', bytes))
    }
    process.stderr.write('\n')
    progress('identity: browser and Node…')
    const identityBrowser = await b('measureIdentity', 1_000)
    const identityNode = await measureIdentity(1_000)
    process.stderr.write('\n')
    const joins: number[] = []
    for (let round = 0; round < JOINS; round++) {
      progress(`rooms: invite link → member ${round + 1}/${JOINS}…`)
      const { link, pin } = await a('roomInvite')
      joins.push(await b('roomJoin', link, pin, idA))
    }
    process.stderr.write('\n')
    const cpace = { browser: await b('measureCPace', 1_000), node: measureCPace(1_000) }
    const discovery = await measureDiscovery(dir, { peers: DHT_PEERS, lookups: LOOKUPS, progress })
    process.stderr.write('\n')
    // the pages of the first part close first: the rooms below are measured without them competing for the CPU
    await Promise.all(pages.map(async (page) => page.context().close()))
    const sync = await measureSync(syncEnv)
    process.stderr.write('\n')

    const mbps = (ms: number): number => bytes / 1e6 / (ms / 1000)
    const tputKith = summarize(kithMs.map(mbps))
    const tputRaw = summarize(rawMs.map(mbps))

    const result = {
      date: new Date().toISOString(),
      machine: { cores: (await import('node:os')).cpus().length, node: process.version },
      connect: { dials: DIALS, failed: DIALS - connected.length, notDirect, errors, ms: connect },
      connectPlain: { dials: DIALS, failed: plainFailed, ms: plainConnect },
      echo: { count: ECHOES, bytes: 32, kith: echoKith, raw: echoRaw },
      throughput: { mib: MIB, rounds: 3, kithMBps: tputKith, rawMBps: tputRaw },
      identity: { browser: identityBrowser, node: identityNode },
      rooms: { joins: JOINS, joinMs: summarize(joins), cpace },
      discovery,
      sync
    }
    if (debug != null) {
      await writeFile(join(RESULTS, 'debug-a.log'), logs[0]?.join('\n') ?? '')
      await writeFile(join(RESULTS, 'debug-b.log'), logs[1]?.join('\n') ?? '')
    }
    const markdown = render(result) + '\n\n' + renderSync(sync)
    await mkdir(RESULTS, { recursive: true })
    await writeFile(join(RESULTS, 'latest.json'), JSON.stringify(result, null, 2) + '\n')
    await writeFile(join(RESULTS, 'latest.md'), markdown + '\n')
    process.stdout.write('\n' + markdown + '\n')
    if (errors.length > 0) process.stdout.write(`\nDial errors: ${errors.join('; ')}\n`)
  } finally {
    await browser.close()
    await server.close()
    await relay.kill('SIGTERM')
    await rm(dir, { recursive: true, force: true })
  }
}

function render(r: {
  connect: { dials: number; failed: number; notDirect: number; ms: Summary }
  connectPlain: { dials: number; failed: number; ms: Summary }
  echo: { count: number; kith: Summary; raw: Summary }
  throughput: { mib: number; kithMBps: Summary; rawMBps: Summary }
  identity: { browser: IdentityOps; node: IdentityOps }
  rooms: { joins: number; joinMs: Summary; cpace: { browser: CPaceOps; node: CPaceOps } }
  discovery: DiscoveryFigures
}): string {
  const rooms = r.rooms
  const d = r.discovery
  const per = (ops: IdentityOps): string[] => [
    `sign ${ops.signPerSecond.toLocaleString('en')}/s · verify ${ops.verifyPerSecond.toLocaleString('en')}/s`,
    `raw Ed25519: sign ${ops.rawSignPerSecond.toLocaleString('en')}/s · verify ${ops.rawVerifyPerSecond.toLocaleString('en')}/s`,
    `backup export ${fixed(ops.backupExportMs, 0)} ms · import ${fixed(ops.backupImportMs, 0)} ms`
  ]
  const identityTable = table(
    ['@kith/identity', 'Kith statements', 'anchor', 'backup (scrypt N=2^17)'],
    [
      ['browser (Chromium)', ...per(r.identity.browser)],
      ['Node', ...per(r.identity.node)]
    ]
  )
  const ratio = r.throughput.kithMBps.median / r.throughput.rawMBps.median
  return [
    `### Browser to browser through a relay (Chromium, loopback, medians)`,
    '',
    table(
      ['measure', 'Kith (@kith/peer)', 'anchor', 'target'],
      [
        [
          `connect, ${r.connect.dials} fresh dials`,
          `min ${fixed(r.connect.ms.min)} / median ${fixed(r.connect.ms.median)} / p95 ${fixed(r.connect.ms.p95)} ms; **${r.connect.failed} failed**; ${r.connect.notDirect} not direct`,
          `plain js-libp2p 3: min ${fixed(r.connectPlain.ms.min)} / median ${fixed(r.connectPlain.ms.median)} / p95 ${fixed(r.connectPlain.ms.p95)} ms; **${r.connectPlain.failed} failed**`,
          'median ≤ 160 ms, 0 failed'
        ],
        [
          `echo RTT, ${r.echo.count} × 32 B`,
          `median ${fixed(r.echo.kith.median, 2)} ms (p95 ${fixed(r.echo.kith.p95, 2)})`,
          `raw RTCDataChannel: median ${fixed(r.echo.raw.median, 2)} ms (p95 ${fixed(r.echo.raw.p95, 2)})`,
          `within 0.2 ms: ${r.echo.kith.median - r.echo.raw.median <= 0.2 ? 'yes' : 'no'} (Δ ${fixed(r.echo.kith.median - r.echo.raw.median, 2)} ms)`
        ],
        [
          `throughput, ${r.throughput.mib} MiB one stream`,
          `${fixed(r.throughput.kithMBps.median)} MB/s`,
          `raw RTCDataChannel: ${fixed(r.throughput.rawMBps.median)} MB/s`,
          `≥ 0.9× raw: ${ratio >= 0.9 ? 'yes' : 'no'} (${fixed(ratio, 2)}×)`
        ]
      ]
    ),
    '',
    `### Identity: signing, verification, backups (target: browser backup import < 2 s)`,
    '',
    identityTable,
    '',
    `### Rooms: joining by invite link + PIN (target: median < 1 s on loopback)`,
    '',
    table(
      ['measure', 'Kith (@kith/trust)', 'anchor', 'target'],
      [
        [
          `invite link → member with the room log, ${rooms.joins} joins, browser to browser through the relay`,
          `median ${fixed(rooms.joinMs.median)} / p95 ${fixed(rooms.joinMs.p95)} ms`,
          `the WebRTC dial alone (connect above): median ${fixed(r.connect.ms.median)} ms`,
          `< 1000 ms: ${rooms.joinMs.median < 1000 ? 'yes' : 'no'}`
        ],
        [
          'CPace handshakes (both sides), browser',
          `${rooms.cpace.browser.handshakesPerSecond.toLocaleString('en')}/s`,
          `X25519 exchanges: ${rooms.cpace.browser.x25519PerSecond.toLocaleString('en')}/s`,
          '—'
        ],
        [
          'CPace handshakes (both sides), Node',
          `${rooms.cpace.node.handshakesPerSecond.toLocaleString('en')}/s`,
          `X25519 exchanges: ${rooms.cpace.node.x25519PerSecond.toLocaleString('en')}/s`,
          '—'
        ]
      ]
    ),
    '',
    `### Discovery by identifier: ${d.peers} Node DHT peers + ${d.relays} relays, ${d.lookups} lookups (targets: median < 100 ms, hops ≤ ⌈log2 ${d.peers + d.relays}⌉ = ${d.hopBound})`,
    '',
    table(
      ['measure', 'Kith discovery', "anchor: the same DHT's provider lookup", 'target'],
      [
        [
          'lookup time',
          `until 3 servers answered: min ${fixed(d.lookupMs.min)} / median ${fixed(d.lookupMs.median)} / p95 ${fixed(d.lookupMs.p95)} ms (first answer: median ${fixed(d.firstAnswerMs.median)} ms); found ${d.found}/${d.lookups}`,
          `min ${fixed(d.providerMs.min)} / median ${fixed(d.providerMs.median)} / p95 ${fixed(d.providerMs.p95)} ms`,
          `median < 100 ms: ${d.lookupMs.median < 100 ? 'yes' : 'no'}`
        ],
        [
          'hops to the first record',
          `median ${fixed(d.hops.median, 0)} · max ${fixed(d.hops.max, 0)}`,
          '—',
          `≤ ${d.hopBound}: ${d.hops.max <= d.hopBound ? 'yes' : 'no'}`
        ],
        [
          'identifier hash (scrypt N=2^15, once per identifier)',
          `median ${fixed(d.hashMs.median)} ms (Node, beside the swarm; ~160 ms idle)`,
          '—',
          'not part of the lookup'
        ]
      ]
    )
  ].join('\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`\nbench failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
