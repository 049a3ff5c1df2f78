import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    name: 'integration',
    include: ['test/**/*.spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // real nodes and relay processes: one file at a time keeps the two cores for them
    fileParallelism: false
  }
})
