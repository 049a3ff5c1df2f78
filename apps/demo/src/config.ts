/** Where the demo finds its relay: `?relay=` in the page URL, else `/config.json` served beside the app. */
export interface DemoConfig {
  /** Relay multiaddrs, each ending in /p2p/<peer id>. */
  relays: string[]
  /** The relay's HTTP base URL, for `/bootstrap`, when known. */
  relayHttp?: string
}

export class ConfigLoadError extends Error {
  static override name = 'ConfigLoadError'
  constructor(message: string) {
    super(message)
    this.name = 'ConfigLoadError'
  }
}

const FETCH_TIMEOUT_MS = 5_000

async function fetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), cache: 'no-store' })
  if (!response.ok) throw new ConfigLoadError(`${url} answered ${response.status}`)
  const text = await response.text()
  if (text.length > 64 * 1024) throw new ConfigLoadError(`${url} is too large`)
  return JSON.parse(text)
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

/** A relay given as a multiaddr is used as is; an http(s) URL is asked for its `/bootstrap` addresses. */
async function relaysFrom(value: string): Promise<DemoConfig> {
  if (value.startsWith('/')) return { relays: [value] }
  const base = value.replace(/\/+$/, '')
  const body = (await fetchJson(`${base}/bootstrap`)) as { multiaddrs?: unknown }
  const relays = stringList(body.multiaddrs)
  if (relays.length === 0) throw new ConfigLoadError(`${base}/bootstrap lists no addresses`)
  return { relays, relayHttp: base }
}

export async function loadConfig(location: Location = window.location): Promise<DemoConfig> {
  const param = new URLSearchParams(location.search).get('relay')
  if (param != null && param !== '') return relaysFrom(param)
  let body: { relays?: unknown; relayHttp?: unknown }
  try {
    body = (await fetchJson('/config.json')) as typeof body
  } catch (err: unknown) {
    throw new ConfigLoadError(
      `No relay configured: open the page with ?relay=<relay http url or multiaddr>, or serve /config.json (${(err as Error).message})`
    )
  }
  if (typeof body.relayHttp === 'string' && stringList(body.relays).length === 0)
    return relaysFrom(body.relayHttp)
  return {
    relays: stringList(body.relays),
    relayHttp: typeof body.relayHttp === 'string' ? body.relayHttp : undefined
  }
}
