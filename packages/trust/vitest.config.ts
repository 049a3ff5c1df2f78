import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    name: 'trust',
    include: ['test/**/*.spec.ts'],
    testTimeout: 30_000
  }
})
