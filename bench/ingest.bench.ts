// Ingestion benchmark (issue 3): `grid report`'s core path (JMeter CSV parsing + windowed
// aggregation + HdrHistograms) on a generated 5,000,000-line JTL in JMeter 5's 17-column format
// with 10 labels, against a bare Node pass that only counts newlines in the same file, measured
// in the same run. Goals: >= 2,500,000 samples/s and >= 15% of the newline pass's speed.
// Exits non-zero below either goal. GRID_BENCH_LINES overrides the line count (for trying out).
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { reportFile } from "../src/ingest/Report.ts"

const LINES = Number(process.env.GRID_BENCH_LINES ?? 5_000_000)
const LABELS = 10
const GOAL_RATE = 2_500_000
const GOAL_RATIO = 0.15

const header =
  "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n"

/** Writes a JTL like JMeter 5 does: ~10,000 samples/s over 50 threads, 1% failures. */
const generate = (file: string): void => {
  const fd = openSync(file, "w")
  writeSync(fd, header)
  let seed = 42
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return seed / 4294967296
  }
  const t0 = 1_700_000_000_000
  let parts: Array<string> = []
  for (let i = 0; i < LINES; i++) {
    const l = i % LABELS
    const ok = rnd() >= 0.01
    const elapsed = Math.floor(5 + 200 * rnd() * rnd() * (l + 1))
    const thread = 1 + (i % 50)
    const ts = t0 + Math.floor(i / 10) + Math.floor(rnd() * 50)
    parts.push(
      `${ts},${elapsed},request ${l},${ok ? "200" : "500"},${ok ? "OK" : "Internal Server Error"},Thread Group 1-${thread},text,${ok}` +
        `,${ok ? "" : "Test failed: code expected to equal 200"},${1000 + l * 10},${150 + l},50,50,http://127.0.0.1:8080/api/item/${l},${elapsed - 2},0,1\n`
    )
    if (parts.length === 10_000) {
      writeSync(fd, parts.join(""))
      parts = []
    }
  }
  if (parts.length > 0) writeSync(fd, parts.join(""))
  closeSync(fd)
}

/** The peer: read the file in 1 MB chunks and count newlines, nothing else. */
const countNewlines = (file: string): number => {
  const buf = Buffer.allocUnsafe(1 << 20)
  const fd = openSync(file, "r")
  let lines = 0
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null)
    if (n <= 0) break
    let p = buf.indexOf(10, 0)
    while (p >= 0 && p < n) {
      lines++
      p = buf.indexOf(10, p + 1)
    }
  }
  closeSync(fd)
  return lines
}

const time = <A>(f: () => A): [A, number] => {
  const t = process.hrtime.bigint()
  const a = f()
  return [a, Number(process.hrtime.bigint() - t) / 1e9]
}

const dir = mkdtempSync(join(tmpdir(), "grid-ingest-bench-"))
try {
  const file = join(dir, "bench.jtl")
  const [, genS] = time(() => generate(file))
  console.log(`generated ${LINES} lines (${(statSync(file).size / 1e6).toFixed(0)} MB) in ${genS.toFixed(1)} s`)
  // Warm the page cache and both code paths once, then take the best of three runs each.
  countNewlines(file)
  let bestPeer = Infinity
  let bestReport = Infinity
  let report: ReturnType<typeof reportFile> | undefined
  for (let i = 0; i < 3; i++) {
    const [lines, peerS] = time(() => countNewlines(file))
    if (lines !== LINES + 1) throw new Error(`peer counted ${lines} lines, expected ${LINES + 1}`)
    bestPeer = Math.min(bestPeer, peerS)
    const [r, reportS] = time(() => reportFile(file, "jmeter"))
    report = r
    bestReport = Math.min(bestReport, reportS)
  }
  const all = report!.summary.total
  if (all.count !== LINES || report!.badLines.count !== 0 || report!.summary.labels.length !== LABELS) {
    throw new Error(`report is wrong: ${JSON.stringify({ all, bad: report!.badLines, labels: report!.summary.labels.length })}`)
  }
  const peerRate = LINES / bestPeer
  const rate = LINES / bestReport
  const ratio = rate / peerRate
  console.log(`newline-count peer : ${(peerRate / 1e6).toFixed(2)} M lines/s (${bestPeer.toFixed(2)} s)`)
  console.log(`grid report core   : ${(rate / 1e6).toFixed(2)} M samples/s (${bestReport.toFixed(2)} s), ${report!.windowCount} windows, p99 ${all.latencyMs.p99} ms`)
  console.log(`ratio              : ${(ratio * 100).toFixed(1)}% of the peer (goal >= ${GOAL_RATIO * 100}%)`)
  console.log(`rate               : ${(rate / 1e6).toFixed(2)} M samples/s (goal >= ${GOAL_RATE / 1e6} M)`)
  const ok = rate >= GOAL_RATE && ratio >= GOAL_RATIO
  console.log(ok ? "ingest bench: PASS" : "ingest bench: FAIL")
  process.exitCode = ok ? 0 : 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
