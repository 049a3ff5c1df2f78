import { defineConfig } from 'vitest/config'

// One run covers every package's unit tests and the integration tests (real libp2p nodes and relays).
export default defineConfig({
  test: {
    projects: [
      'packages/peer',
      'packages/identity',
      'packages/trust',
      'packages/sync',
      'packages/integration-tests',
      'apps/relay',
      'apps/demo',
      'tooling'
    ]
  }
})
