import { existsSync } from 'node:fs'

/** Flags that work on these machines: no sandbox as root, no GPU, no traffic to Google's services. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage'
]

/** No Chromium binary where one was expected. */
export class ChromiumNotFoundError extends Error {
  static override name = 'ChromiumNotFoundError'

  constructor(path: string) {
    super(`no Chromium at ${path}: install the Debian package "chromium" or set KITH_CHROMIUM`)
    this.name = 'ChromiumNotFoundError'
  }
}

/** The Chromium to drive: `KITH_CHROMIUM`, else the Debian package's binary. */
export function chromiumPath(): string {
  const path = process.env.KITH_CHROMIUM ?? '/usr/bin/chromium'
  if (!existsSync(path)) throw new ChromiumNotFoundError(path)
  return path
}
