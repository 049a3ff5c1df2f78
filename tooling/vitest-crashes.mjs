// A vitest reporter that records which test files lost their worker process to a signal (a crash in native code,
// such as WebRTC's node-datachannel aborting), apart from every other unhandled error, and the rule `npm test`
// applies to that record: such a file runs once more, because a crash is not a failed assertion, and vitest itself
// neither retries it nor counts it as a failure in its JSON report. The reporter writes to $KITH_WORKER_CRASHES, and
// nothing when that is unset. Standard library only: tooling/bootstrap.mjs imports it before anything is installed.
import { writeFileSync } from 'node:fs'

const CRASH = /^Worker exited unexpectedly with signal (\w+) .* while running test file (.+)$/

/**
 * @typedef {{ crashes: Array<{ signal: string, file: string }>, otherErrors: number }} WorkerCrashRecord
 * @typedef {{ passed: number, failed: number, skipped: number }} Counts
 */

export default class WorkerCrashes {
  onTestRunEnd(_modules, unhandledErrors) {
    const path = process.env.KITH_WORKER_CRASHES
    if (path == null || path === '') return
    writeFileSync(path, `${JSON.stringify(recordCrashes(unhandledErrors), null, 2)}\n`)
  }
}

/**
 * Sorts a run's unhandled errors into worker crashes and the rest.
 * @param {ReadonlyArray<{ cause?: { message?: string } }>} unhandledErrors
 * @returns {WorkerCrashRecord}
 */
export function recordCrashes(unhandledErrors) {
  const crashes = []
  let otherErrors = 0
  for (const error of unhandledErrors) {
    const match = CRASH.exec(error.cause?.message ?? '')
    if (match == null) otherErrors += 1
    else crashes.push({ signal: match[1], file: match[2] })
  }
  return { crashes, otherErrors }
}

/**
 * The files to run once more after a failed run: those whose worker crashed, when that is the only thing that went
 * wrong (no test failed, no other unhandled error, no other file failed, as one that did not load) and at most
 * `limit` files crashed. Otherwise none: the failure stands.
 * @param {WorkerCrashRecord} record
 * @param {{ testResults: Array<{ name: string, status: string, assertionResults: Array<{ status: string }> }> }} report
 * @param {number} limit
 * @returns {string[]}
 */
export function crashedFilesToRerun(record, report, limit) {
  const files = [...new Set(record.crashes.map((crash) => crash.file))]
  if (files.length === 0 || files.length > limit || record.otherErrors > 0) return []
  const failedElsewhere = report.testResults.some(
    (file) =>
      (file.status === 'failed' && !files.includes(file.name)) ||
      file.assertionResults.some((test) => test.status === 'failed')
  )
  return failedElsewhere ? [] : files
}

/**
 * Passed, failed and skipped tests in a vitest JSON report, from each file's tests (a file that failed without
 * running any, as on an import error, counts as one failure), leaving out the given files.
 * @param {{ testResults: Array<{ name: string, status: string, assertionResults: Array<{ status: string }> }> }} report
 * @param {string[]} [without]
 * @returns {Counts}
 */
export function vitestCounts(report, without = []) {
  const counts = { passed: 0, failed: 0, skipped: 0 }
  for (const file of report.testResults.filter((result) => !without.includes(result.name))) {
    if (file.status === 'failed' && file.assertionResults.length === 0) counts.failed += 1
    for (const test of file.assertionResults) {
      if (test.status === 'passed') counts.passed += 1
      else if (test.status === 'failed') counts.failed += 1
      else counts.skipped += 1
    }
  }
  return counts
}

/**
 * The lines `npm test` prints for a diagnostic report Node wrote on a fatal error: what happened, the JavaScript
 * stack and the top of the native one, each frame with its library's file name (whose code aborted).
 * @param {{ header?: { event?: string, trigger?: string }, javascriptStack?: { message?: string, stack?: string[] }, nativeStack?: Array<{ pc: string, symbol?: string }> }} report
 * @param {string} where
 * @returns {string[]}
 */
export function describeFatalReport(report, where) {
  const native = (report.nativeStack ?? [])
    .map((frame) => (frame.symbol ?? frame.pc).replace(/\[[^\]]*\/([^/\]]+)\]$/, '[$1]'))
    .filter((frame) => !frame.includes('TriggerNodeReport'))
    .slice(0, 12)
  const js = (report.javascriptStack?.stack ?? []).slice(0, 8).map((line) => line.trim())
  return [
    `[kith] Node's report of a fatal error (${where}):`,
    `  ${report.header?.event ?? 'no event'} (${report.header?.trigger ?? 'no trigger'})`,
    `  JavaScript: ${report.javascriptStack?.message ?? 'no message'}`,
    ...js.map((line) => `    ${line}`),
    '  native:',
    ...native.map((frame) => `    ${frame}`)
  ]
}
