import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    name: 'sync',
    include: ['test/**/*.spec.ts'],
    testTimeout: 60_000
  }
})
