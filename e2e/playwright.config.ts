import { CHROMIUM_ARGS, chromiumPath } from '@kith/devtools'
import { defineConfig } from '@playwright/test'

export default defineConfig({
  testDir: './tests',
  // each test starts its own relay and browsers; the machine has two cores
  workers: 1,
  fullyParallel: false,
  timeout: 120_000,
  expect: { timeout: 20_000 },
  retries: 0,
  reporter:
    process.env.CI != null
      ? [['list']]
      : [['list'], ['html', { open: 'never', outputFolder: '../playwright-report' }]],
  outputDir: '../test-results',
  use: {
    browserName: 'chromium',
    launchOptions: { executablePath: chromiumPath(), args: CHROMIUM_ARGS },
    trace: 'retain-on-failure'
  }
})
