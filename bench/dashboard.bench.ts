// Dashboard benchmark (issue 16): what watching a test costs, against a peer measured in the
// same run. A one-hour `grid run` is simulated: 3600 result windows of 10 labels plus `*`, each
// with a real HdrHistogram (bench/windowTemplates.ts), folded by NodeWindows as `grid run` does.
// 1. The generating process: the feed's refresh once a second (the summary so far from merged
//    histograms, thresholds) and one page's message, against the peer the run already pays each
//    second: NodeWindows folding one window. Also a page opened at the end (the whole hour).
// 2. A launch: the dashboard's own fold of each node's window (LaunchSource: the summary so far
//    must not wait for the merger's seconds) against the merger's add of the same windows.
// 3. The page: the HTML report of that hour (3600 points per chart, six charts) opened in
//    chromium until every chart is drawn, against the same page with one minute of points.
// Exits non-zero if a refresh costs more than 2% of a core, or the hour takes over 10 s to draw.
import { chromium } from "playwright-core"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DashboardFeed } from "../src/dashboard/Feed.ts"
import type { DashboardMeta } from "../src/dashboard/Model.ts"
import { reportData, reportHtml } from "../src/dashboard/ReportData.ts"
import { LaunchSource, runSource } from "../src/dashboard/Sources.ts"
import { WindowMerger } from "../src/controller/Merger.ts"
import { parseThreshold, type Threshold } from "../src/engine/Thresholds.ts"
import type { ResultWindow } from "../src/protocol/results.ts"
import { NodeWindows } from "../src/report/NodeWindows.ts"
import { windowTemplates } from "./windowTemplates.ts"

const SECONDS = Number(process.env.GRID_BENCH_DASHBOARD_SECONDS ?? 3600)
const t0 = 1_800_000_000_000
const pool = windowTemplates(64).map((t) => JSON.parse(t.labels) as ResultWindow["labels"])
const windows: Array<ResultWindow> = Array.from({ length: SECONDS }, (_, seq) => ({
  testId: "bench", nodeId: "local", seq, start: t0 + seq * 1000, end: t0 + seq * 1000 + 1000, labels: pool[(seq * 7) % pool.length]!, final: seq === SECONDS - 1
}))
const meta: DashboardMeta = { kind: "run", title: "dashboard bench", commandLine: "grid run bench.yaml --dashboard", flags: {}, windowMs: 1000, load: "users", plannedMs: SECONDS * 1000 }
const thresholds = ["p95 < 300ms", "errors < 1%", "request 3: p99 < 1s"].map((t) => parseThreshold(t) as Threshold)
const ms = (v: number) => v.toFixed(3)
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

// ---------------------------------------------------------------- 1. the generating process
const view = new NodeWindows()
const status = { users: 50, dropped: 0, arrivals: 0 }
const feed = new DashboardFeed(meta, runSource({ view, status, open: false, order: [], thresholds, startedAt: t0 }))
const perWindow: Array<number> = []
const published: Array<ResultWindow> = []
for (let i = 0; i < windows.length; i++) {
  published.push(windows[i]!)
  const a = performance.now()
  view.update(published)
  perWindow.push(performance.now() - a)
  feed.sampleLoad(t0 + i * 1000)
}
const refresh: Array<number> = []
const message: Array<number> = []
let bytes = 0
for (let i = 0; i < 30; i++) {
  const a = performance.now()
  feed.refresh(t0 + SECONDS * 1000 + i)
  const b = performance.now()
  const text = feed.sinceJson(SECONDS - 2).json
  message.push(performance.now() - b)
  refresh.push(b - a)
  bytes = text.length
}
feed.sinceJson(-1)
const a = performance.now()
const whole = feed.sinceJson(-1).json
const catchUp = performance.now() - a
const b0 = performance.now()
JSON.stringify(feed.since(-1))
const catchUpPlain = performance.now() - b0
const window1 = median(perWindow.slice(-600))
const refresh1 = median(refresh)
console.log(`windows: ${SECONDS} of 10 labels + *, folded by NodeWindows: ${ms(window1)} ms per window (median of the last 600: the peer)`)
console.log(`feed.refresh (summary so far, 3 thresholds): ${ms(refresh1)} ms per second = ${(refresh1 / 10).toFixed(3)}% of a core; ${(refresh1 / window1).toFixed(1)}x folding one window`)
console.log(`one page's message: ${ms(median(message))} ms, ${(bytes / 1024).toFixed(1)} KB per second; ${(median(message) / window1).toFixed(1)}x folding one window`)
console.log(`a page opened after ${SECONDS} s: ${ms(catchUp)} ms, ${(whole.length / 1024).toFixed(0)} KB (each point's JSON made once; JSON.stringify of it all, the peer: ${ms(catchUpPlain)} ms = ${(catchUpPlain / catchUp).toFixed(1)}x)`)

// ---------------------------------------------------------------- 2. a launch
const NODES = 50
const fleet: Array<ResultWindow> = []
for (let seq = 0; seq < 60; seq++) for (let n = 0; n < NODES; n++) fleet.push({ ...windows[seq]!, nodeId: `n${n}`, labels: pool[(seq * 7 + n) % pool.length]! })
const timeEach = (f: (w: ResultWindow) => void) => {
  const a = performance.now()
  for (const w of fleet) f(w)
  return (performance.now() - a) / fleet.length
}
const merger = new WindowMerger(Array.from({ length: NODES }, (_, n) => `n${n}`))
const mergeMs = timeEach((w) => merger.add(w, 0))
const source = new LaunchSource({ order: [], thresholds, load: "users", startedAt: t0 })
const sourceMs = timeEach((w) => source.window(w))
console.log(`a launch of ${NODES} nodes x 60 s: the merger adds a window in ${ms(mergeMs)} ms (the peer); the dashboard's fold ${ms(sourceMs)} ms = ${(sourceMs / mergeMs).toFixed(2)}x`)

// ---------------------------------------------------------------- 3. the page
const dir = mkdtempSync(join(tmpdir(), "grid-bench-dashboard-"))
const summary = view.summary({ endedAt: t0 + SECONDS * 1000, fallbackStart: t0, order: [], dropped: 0, interrupted: false })
const page = (n: number) => {
  const file = join(dir, `report-${n}.html`)
  const html = reportHtml(reportData({ meta, summary, points: view.points.slice(0, n), at: t0, load: feed.load }))
  writeFileSync(file, html)
  return { file, kb: html.length / 1024 }
}
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-dev-shm-usage"] })
const drawMs = async (file: string, n: number): Promise<number> => {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } })
  await ctx.setOffline(true)
  const p = await ctx.newPage()
  await p.goto(`file://${file}`)
  await p.waitForFunction(`window.gridDashboard && window.gridDashboard.charts().length === 6 && window.gridDashboard.charts().every((c) => c.points === ${n})`)
  // From navigation start to every chart drawn, by the page's own clock.
  const t = (await p.evaluate("performance.now()")) as number
  await ctx.close()
  return t
}
const small = page(60)
const large = page(SECONDS)
const smallMs: Array<number> = []
const largeMs: Array<number> = []
for (let i = 0; i < 3; i++) {
  smallMs.push(await drawMs(small.file, 60))
  largeMs.push(await drawMs(large.file, SECONDS))
}
await browser.close()
rmSync(dir, { recursive: true, force: true })
const s = median(smallMs)
const l = median(largeMs)
console.log(`report of 60 s: ${small.kb.toFixed(0)} KB, drawn in ${s.toFixed(0)} ms (the peer)`)
console.log(`report of ${SECONDS} s: ${large.kb.toFixed(0)} KB, drawn in ${l.toFixed(0)} ms = ${(l / s).toFixed(2)}x the minute, for ${(SECONDS / 60).toFixed(0)}x the points`)
const problems = [
  refresh1 / 10 > 2 ? `a refresh costs ${(refresh1 / 10).toFixed(2)}% of a core (more than 2%)` : undefined,
  l > 10_000 ? `the hour took ${l.toFixed(0)} ms to draw (more than 10 s)` : undefined
].filter((p) => p !== undefined)
if (problems.length > 0) {
  console.log(`FAIL: ${problems.join("; ")}`)
  process.exit(1)
}
