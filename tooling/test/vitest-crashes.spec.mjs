import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { crashedFilesToRerun, describeFatalReport, recordCrashes, vitestCounts } from '../vitest-crashes.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const FIXTURE = join(HERE, 'fixtures', 'crash.fixture.mjs')
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs')

const crash = (file, signal = 'SIGABRT') => ({
  message: '[vitest-pool]: Worker forks emitted error.',
  cause: {
    message: `Worker exited unexpectedly with signal ${signal} during started state while running test file ${file}`
  }
})
// the children here abort on purpose: no core file, on a machine that would write one
const noCoreDump = (command, args, options) =>
  spawnSync('sh', ['-c', 'ulimit -c 0 && exec "$0" "$@"', command, ...args], options)
const file = (name, status, ...tests) => ({
  name,
  status,
  assertionResults: tests.map((s) => ({ status: s }))
})

describe('worker crashes in a vitest run', () => {
  const dirs = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  it('records a file whose worker a signal killed, from a real vitest run, and reruns only that file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-crashes-'))
    dirs.push(dir)
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST')))
    const run = noCoreDump(
      process.execPath,
      [
        VITEST,
        'run',
        '--root',
        join(HERE, 'fixtures'),
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${join(dir, 'report.json')}`,
        `--reporter=${join(HERE, '..', 'vitest-crashes.mjs')}`
      ],
      { env: { ...env, KITH_WORKER_CRASHES: join(dir, 'crashes.json') }, encoding: 'utf8', timeout: 50_000 }
    )
    expect(run.status, run.stdout + run.stderr).toBe(1)
    expect(run.stdout + run.stderr).toContain('Worker exited unexpectedly with signal SIGABRT')
    const record = JSON.parse(readFileSync(join(dir, 'crashes.json'), 'utf8'))
    expect(record).toEqual({ crashes: [{ signal: 'SIGABRT', file: FIXTURE }], otherErrors: 0 })
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
    expect(crashedFilesToRerun(record, report, 2)).toEqual([FIXTURE])
    // the crash may come before the first test's result is reported: then all three are left unrun
    const counts = vitestCounts(report)
    expect(counts.failed).toBe(0)
    expect(counts.passed + counts.skipped).toBe(3)
    expect(vitestCounts(report, [FIXTURE])).toEqual({ passed: 0, failed: 0, skipped: 0 })
  })

  it('sorts unhandled errors into crashes and the rest', () => {
    expect(recordCrashes([crash('/a.spec.ts'), { message: 'boom' }, crash('/b.spec.ts', 'SIGSEGV')])).toEqual(
      {
        crashes: [
          { signal: 'SIGABRT', file: '/a.spec.ts' },
          { signal: 'SIGSEGV', file: '/b.spec.ts' }
        ],
        otherErrors: 1
      }
    )
  })

  it('reruns nothing when anything but the crash went wrong, or too many files crashed', () => {
    const crashed = { crashes: [{ signal: 'SIGABRT', file: '/a' }], otherErrors: 0 }
    const clean = { testResults: [file('/a', 'failed', 'passed', 'pending'), file('/b', 'passed', 'passed')] }
    expect(crashedFilesToRerun(crashed, clean, 2)).toEqual(['/a'])
    // a failed test elsewhere
    expect(
      crashedFilesToRerun(crashed, { testResults: [file('/a', 'failed'), file('/b', 'failed', 'failed')] }, 2)
    ).toEqual([])
    // a file that did not load
    expect(
      crashedFilesToRerun(crashed, { testResults: [file('/a', 'failed'), file('/c', 'failed')] }, 2)
    ).toEqual([])
    // an unhandled error besides the crash
    expect(crashedFilesToRerun({ ...crashed, otherErrors: 1 }, clean, 2)).toEqual([])
    // more crashed files than the limit
    const three = { crashes: ['/a', '/b', '/c'].map((f) => ({ signal: 'SIGABRT', file: f })), otherErrors: 0 }
    expect(crashedFilesToRerun(three, { testResults: [] }, 2)).toEqual([])
    // no crash at all
    expect(crashedFilesToRerun({ crashes: [], otherErrors: 0 }, clean, 2)).toEqual([])
  })

  it('counts a file that failed without running a test as one failure', () => {
    expect(
      vitestCounts({ testResults: [file('/a', 'failed'), file('/b', 'passed', 'passed', 'skipped')] })
    ).toEqual({
      passed: 1,
      failed: 1,
      skipped: 1
    })
  })

  it('prints what a fatal-error report from Node says, from a real report of a process that ran out of memory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-report-'))
    dirs.push(dir)
    // NODE_OPTIONS as npm test sets it for the vitest step (a quoted directory)
    const died = noCoreDump(
      process.execPath,
      ['--max-old-space-size=16', '-e', 'const a = []; for (;;) a.push(new Array(1e5).fill(1))'],
      {
        env: { ...process.env, NODE_OPTIONS: `--report-on-fatalerror --report-directory="${dir}"` },
        encoding: 'utf8',
        timeout: 50_000
      }
    )
    expect(died.signal).toBe('SIGABRT')
    const [name] = readdirSync(dir)
    const lines = describeFatalReport(JSON.parse(readFileSync(join(dir, name), 'utf8')), name)
    expect(lines[0]).toBe(`[kith] Node's report of a fatal error (${name}):`)
    expect(lines[1]).toMatch(/heap out of memory \(OOMError\)$/)
    const native = lines.slice(lines.indexOf('  native:') + 1)
    expect(native.length).toBeGreaterThan(0)
    expect(native.length).toBeLessThanOrEqual(12)
    expect(native.some((frame) => frame.includes('TriggerNodeReport'))).toBe(false)
    // each frame names its library by file name, not by path
    expect(native.filter((frame) => frame.endsWith('[node]')).length).toBeGreaterThan(0)
    expect(native.some((frame) => frame.includes('/'))).toBe(false)
  })
})
