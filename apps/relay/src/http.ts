import { createServer } from 'node:http'
import { AddressInUseError } from './errors.ts'
import type { RelayHealth } from './relay.ts'
import type { Logger } from 'pino'

export interface HttpInit {
  host: string
  port: number
  health(): RelayHealth
  metrics(): Promise<string>
  metricsContentType: string
  bootstrap(): { peerId: string; multiaddrs: string[]; all: string[] }
  log: Logger
}

/**
 * `GET /health`, `GET /metrics` and `GET /bootstrap`, on their own port. Read-only and small; anything else is
 * 404 or 405. `/bootstrap` and `/health` allow any origin, since demo pages on other origins read them.
 */
export async function startHttp(init: HttpInit): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'access-control-allow-origin': '*'
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'application/json', JSON.stringify({ error: 'method not allowed' }))
      return
    }
    switch (path) {
      case '/health':
        send(200, 'application/json', JSON.stringify(init.health()))
        return
      case '/bootstrap':
        send(200, 'application/json', JSON.stringify(init.bootstrap()))
        return
      case '/metrics':
        init.metrics().then(
          (text) => send(200, init.metricsContentType, text),
          (err: unknown) => {
            init.log.error({ err }, 'metrics failed')
            send(500, 'application/json', JSON.stringify({ error: 'metrics unavailable' }))
          }
        )
        return
      default:
        send(404, 'application/json', JSON.stringify({ error: 'not found' }))
    }
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  server.maxHeadersCount = 50

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new AddressInUseError(`HTTP port ${init.port} on ${init.host} is already in use`, { cause: err })
          : err
      )
    })
    server.listen(init.port, init.host, () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address != null ? address.port : init.port
  const host = init.host.includes(':') ? `[${init.host}]` : init.host
  return {
    url: `http://${host}:${port}`,
    close: async () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
