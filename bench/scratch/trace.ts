// scratch: where does a 2-peer edit's time go? (not committed)
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CHROMIUM_ARGS, chromiumPath, serveStatic, startRelayProcess } from '@kith/devtools'
import { chromium } from 'playwright-core'

const dir = await mkdtemp(join(tmpdir(), 'trace-'))
const relay = await startRelayProcess({ keyFile: join(dir, 'relay.key') })
const server = await serveStatic({
  root: fileURLToPath(new URL('../dist', import.meta.url)),
  config: { relays: relay.multiaddrs },
  isolated: true
})
const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
const hook = () => {
  const send = RTCDataChannel.prototype.send
  const w = window as any
  w.sends = []
  RTCDataChannel.prototype.send = function (this: RTCDataChannel, d: any) {
    w.sends.push(performance.timeOrigin + performance.now())
    return send.call(this, d)
  }
  const add = EventTarget.prototype.addEventListener
  w.recvs = []
  EventTarget.prototype.addEventListener = function (this: any, type: string, fn: any, opts: any) {
    if (type === 'message' && this instanceof RTCDataChannel) {
      return add.call(
        this,
        type,
        (e: any) => {
          w.recvs.push(performance.timeOrigin + performance.now())
          fn(e)
        },
        opts
      )
    }
    return add.call(this, type, fn, opts)
  }
}
const pages = []
for (let i = 0; i < 2; i++) {
  const ctx = await browser.newContext()
  await ctx.addInitScript(hook)
  const page = await ctx.newPage()
  await page.goto(server.url)
  pages.push(page)
}
const call = (p: any, m: string, ...a: unknown[]) =>
  p.evaluate(([m, a]: any) => (window as any).bench[m](...a), [m, a])
for (const p of pages) {
  await call(p, 'start', relay.multiaddrs)
  await call(p, 'kithStart')
}
const room = await call(pages[0], 'kithCreate')
const inv = await call(pages[0], 'kithInvite', room)
await call(pages[1], 'kithJoin', inv.link, inv.pin)
await new Promise((r) => setTimeout(r, 4000))
const rows = []
for (let i = 0; i < 40; i++) {
  await pages[0].evaluate(() => {
    ;(window as any).sends = []
  })
  await pages[1].evaluate(() => {
    ;(window as any).recvs = []
  })
  const t0 = await call(pages[0], 'edit', `k${i}`)
  await call(pages[1], 'waitKey', `k${i}`, 5000)
  const arr = await call(pages[1], 'arrivals', [`k${i}`])
  const sends = await pages[0].evaluate(() => (window as any).sends)
  const recvs = await pages[1].evaluate(() => (window as any).recvs)
  rows.push({
    send: (sends[0] ?? NaN) - t0,
    wire: (recvs[0] ?? NaN) - (sends[0] ?? NaN),
    recv: arr[`k${i}`] - (recvs[0] ?? NaN),
    total: arr[`k${i}`] - t0
  })
  await new Promise((r) => setTimeout(r, 100))
}
const med = (k: string) => {
  const v = rows.map((r: any) => r[k]).sort((a: number, b: number) => a - b)
  return v[Math.floor(v.length / 2)].toFixed(2)
}
console.log(
  'median ms: edit→send',
  med('send'),
  'send→message',
  med('wire'),
  'message→applied',
  med('recv'),
  'total',
  med('total')
)
await browser.close()
await server.close()
await relay.kill('SIGTERM')
