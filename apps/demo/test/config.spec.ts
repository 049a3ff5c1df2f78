import { afterEach, describe, expect, it, vi } from 'vitest'
import { ConfigLoadError, loadConfig } from '../src/config.ts'

const RELAY = '/ip4/127.0.0.1/tcp/4003/ws/p2p/12D3KooWJSS3L3hLhhwNLUiwensY2CPiPgXTqgQGMvaxkYcrhsaF'
const at = (search: string): Location => ({ search }) as Location

function serve(routes: Record<string, unknown>): void {
  vi.stubGlobal('fetch', (url: string) =>
    Promise.resolve(
      url in routes
        ? new Response(JSON.stringify(routes[url]), { status: 200 })
        : new Response('missing', { status: 404 })
    )
  )
}

describe('loadConfig', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('should take a relay multiaddr from ?relay=', async () => {
    expect(await loadConfig(at(`?relay=${encodeURIComponent(RELAY)}`))).toEqual({ relays: [RELAY] })
  })

  it("should ask a relay's HTTP URL for its bootstrap addresses", async () => {
    serve({ 'http://127.0.0.1:8080/bootstrap': { multiaddrs: [RELAY] } })
    expect(await loadConfig(at('?relay=http://127.0.0.1:8080/'))).toEqual({
      relays: [RELAY],
      relayHttp: 'http://127.0.0.1:8080'
    })
  })

  it('should fall back to /config.json', async () => {
    serve({ '/config.json': { relays: [RELAY], relayHttp: 'http://127.0.0.1:8080' } })
    expect(await loadConfig(at(''))).toEqual({ relays: [RELAY], relayHttp: 'http://127.0.0.1:8080' })
  })

  it('should explain how to configure a relay when there is none', async () => {
    serve({})
    await expect(loadConfig(at(''))).rejects.toMatchObject({
      name: ConfigLoadError.name,
      message: /\?relay=/
    })
  })

  it('should refuse a bootstrap answer without addresses', async () => {
    serve({ 'http://relay/bootstrap': { multiaddrs: 'nope' } })
    await expect(loadConfig(at('?relay=http://relay'))).rejects.toMatchObject({ name: ConfigLoadError.name })
  })
})
