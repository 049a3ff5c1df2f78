import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    name: 'tooling',
    include: ['test/*.spec.mjs'],
    testTimeout: 60_000
  }
})
