#!/usr/bin/env node
import { parseConfig, usage } from './config.ts'
import { startRelay } from './relay.ts'

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2), process.env)
  if (config === 'help') {
    process.stdout.write(usage() + '\n')
    return
  }
  const relay = await startRelay(config)
  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    relay.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`kith-relay: error while stopping after ${signal}: ${String(err)}\n`)
        process.exit(1)
      }
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}

main().catch((err: unknown) => {
  const name = (err as Error)?.name ?? 'Error'
  const message = (err as Error)?.message ?? String(err)
  process.stderr.write(`kith-relay: ${message}${name === 'ConfigError' ? ' (see kith-relay --help)' : ''}\n`)
  process.exit(2)
})
