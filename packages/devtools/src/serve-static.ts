// A small static server for a built page (the demo, the benchmark page), plus `/config.json` telling the page which
// relay to use. `npm start`, the end-to-end tests and the benchmark serve pages with it.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join, normalize, resolve, sep } from 'node:path'

export interface ServeStaticInit {
  /** Folder with the built app. */
  root: string
  /** Default 127.0.0.1. */
  host?: string
  /** Default 0 (any free port). */
  port?: number
  /** Served as /config.json. */
  config: { relays: string[]; relayHttp?: string }
  /**
   * Serve pages cross-origin isolated (COOP + COEP), which gives `performance.now()` microsecond resolution instead
   * of 100 µs steps. The benchmark needs it; the demo does not.
   */
  isolated?: boolean
}

export interface StaticServer {
  url: string
  close(): Promise<void>
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
  '.wasm': 'application/wasm'
}

export async function serveStatic(init: ServeStaticInit): Promise<StaticServer> {
  const root = resolve(init.root)
  const config = JSON.stringify(init.config)
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end()
      return
    }
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(config)
      return
    }
    const file = normalize(join(root, path))
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end()
      return
    }
    const send = (target: string): void => {
      res.writeHead(200, {
        ...(init.isolated === true
          ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
          : {}),
        'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
        'cache-control': target.includes(`${sep}assets${sep}`)
          ? 'public, max-age=31536000, immutable'
          : 'no-cache'
      })
      if (req.method === 'HEAD') res.end()
      else createReadStream(target).pipe(res)
    }
    stat(file).then(
      (s) => send(s.isDirectory() ? join(file, 'index.html') : file),
      // a single-page app: unknown paths get the page, missing assets a 404
      () => (extname(path) === '' ? send(join(root, 'index.html')) : res.writeHead(404).end())
    )
  })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(init.port ?? 0, init.host ?? '127.0.0.1', () => ok())
  })
  const address = server.address()
  const port = typeof address === 'object' && address != null ? address.port : 0
  return {
    url: `http://${init.host ?? '127.0.0.1'}:${port}`,
    close: async () =>
      new Promise<void>((ok) => {
        server.closeAllConnections()
        server.close(() => ok())
      })
  }
}
