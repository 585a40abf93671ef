// `grid run --http-addr` and `grid launch --http-addr`: the run's live figures for Prometheus,
// against the real things. A real `grid run` process (and a `grid launch` on one real daemon
// process over a real nats-server) loads a target in this process; its /metrics is judged by
// `promtool check metrics` mid-run, and a real Prometheus scraping it every second must end up
// with the requests counter equal to the run's final count (--http-linger keeps the command
// serving until Prometheus has read the final figures). The label cap folds into `__other__`.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { encodeHistogram, newHistogram, type ResultWindow } from "../src/protocol/results.ts"
import { RunMetrics } from "../src/report/RunMetrics.ts"
import { launchDaemon } from "./support/daemonProcess.ts"
import { runGrid, spawnGrid } from "./support/gridCli.ts"
import { freePort, TestNats } from "./support/natsServer.ts"
import { prometheus, promtoolCheck, tempDir } from "./support/prometheus.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/run-metrics/Target") {
  static readonly layer = Layer.effect(
    Target,
    serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 2, errorRate: 0 }, routes: { "/slow": { latencyMs: 40, errorRate: 0.2 } } })
  )
}

const env = Layer.mergeAll(Target.layer, WireClient.layerNats).pipe(Layer.provideMerge(TestNats.layer()))

const scenario = (target: RunningTarget) => ({
  target: target.url,
  requests: [{ name: "home", path: "/" }, { name: "slow", path: "/slow" }],
  load: { model: "closed", users: 3, durationSeconds: 4 }
})

const metricsAt = (base: string) =>
  Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text()).catch(() => ""))
const requestsIn = (text: string) =>
  [...text.matchAll(/^grid_run_requests_total\{label="[^"]*"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0)

/** Runs `grid <args>` serving on a free port; judges /metrics mid-run and Prometheus at the end. */
const watched = (args: (addr: string, outFile: string) => Array<string>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir("grid-runmetrics-")
    const port = yield* Effect.promise(() => freePort())
    const addr = `127.0.0.1:${port}`
    const outFile = path.join(dir, "out.json")
    const prom = yield* prometheus(addr)
    const p = yield* spawnGrid([...args(addr, outFile), "--http-addr", addr, "--http-linger", "30s", "--out", outFile])
    // Mid-run: some requests counted, and promtool finds nothing to say about the exposition.
    const mid = yield* waitUntil(`requests on /metrics (${p.output().slice(-400)})`, Effect.map(metricsAt(`http://${addr}`), (t) => (requestsIn(t) > 0 ? t : undefined)), "30 seconds")
    const checked = promtoolCheck(mid)
    expect(checked.problems).toBe("")
    expect(checked.status).toBe(0)
    expect(mid).toMatch(/^grid_run_request_duration_seconds_bucket\{label="slow",le="0.05"\} \d+$/m)
    expect((yield* Effect.promise(() => fetch(`http://${addr}/healthz`))).status).toBe(200)
    const code = yield* p.exited
    expect(code, p.output()).toBe(0)
    expect(p.stdout()).toContain(`serving /metrics and /healthz on http://${addr}`)
    const doc = JSON.parse(fs.readFileSync(outFile, "utf8")) as { total: { count: number; errors: number } }
    expect(doc.total.count).toBeGreaterThan(0)
    // The command lingered until a scrape read the final figures: Prometheus has them.
    const seen = yield* waitUntil(
      `Prometheus has the final count ${doc.total.count} (${prom.log().slice(-300)})`,
      Effect.map(prom.query(`sum(max_over_time(grid_run_requests_total[5m]))`), (v) => (v === doc.total.count ? v : undefined)),
      "30 seconds"
    )
    expect(seen).toBe(doc.total.count)
    expect(yield* prom.query(`sum(max_over_time(grid_run_errors_total[5m]))`)).toBe(doc.total.errors)
    expect(yield* prom.query(`sum(max_over_time(grid_run_request_duration_seconds_count[5m]))`)).toBe(doc.total.count)
    // It stopped serving at the first scrape of the final figures (one more may have been in
    // flight): Prometheus' keep-alive connection no longer holds the server open until the
    // graceful-shutdown timeout, scraping the same figures all along.
    const windows = yield* prom.samples(`grid_run_windows_total[5m]`)
    expect(windows.filter((v) => v === windows.at(-1)).length).toBeLessThanOrEqual(2)
    return { mid, prom }
  })

describe("--http-addr on grid run and grid launch", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("grid run: promtool passes its /metrics and Prometheus ends with the run's final count", () =>
      Effect.gen(function*() {
        const target = yield* Target
        const dir = yield* tempDir("grid-runmetrics-sc-")
        const file = path.join(dir, "scenario.json")
        fs.writeFileSync(file, JSON.stringify(scenario(target)))
        const { mid } = yield* watched(() => ["run", file])
        expect(mid).not.toContain("grid_launch_node_status")
        const doc = fs.readFileSync(path.resolve(import.meta.dirname, "../docs/operations.md"), "utf8")
        for (const name of [...mid.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!)) expect(doc, name).toContain(`| \`${name}\` |`)
        expect(doc).toContain("| `grid_launch_node_status` |")
      }).pipe(Effect.scoped), 120_000)

    it.effect("grid launch on one real daemon: the same, and the node's status", () =>
      Effect.gen(function*() {
        const target = yield* Target
        const nats = yield* TestNats
        yield* launchDaemon("metrics-1")
        const dir = yield* tempDir("grid-runmetrics-plan-")
        const file = path.join(dir, "plan.json")
        fs.writeFileSync(file, JSON.stringify({ name: "metrics", tool: "builtin", scenario: scenario(target) }))
        const { mid, prom } = yield* watched(() => ["launch", file, "--nats-url", nats.url, "--nodes", "metrics-1"])
        expect(mid).toContain(`grid_launch_node_status{node="metrics-1",status="running"} 1`)
        expect(yield* prom.query(`grid_launch_node_status{node="metrics-1",status="finished"}`)).toBe(1)
      }).pipe(Effect.scoped), 120_000)

    it.effect("a port already taken fails grid run at once, saying why", () =>
      Effect.gen(function*() {
        const target = yield* Target
        const dir = yield* tempDir("grid-runmetrics-busy-")
        const file = path.join(dir, "scenario.json")
        fs.writeFileSync(file, JSON.stringify(scenario(target)))
        const taken = target.url.slice("http://".length).replace(/\/$/, "")
        const r = yield* runGrid(["run", file, "--http-addr", taken])
        expect(r.code).toBe(1)
        expect(r.stderr).toContain(`grid run: cannot listen on ${taken}: listen EADDRINUSE`)
        expect(r.stdout).not.toContain("0:01")
      }).pipe(Effect.scoped))

    it.effect("labels past the cap fold into __other__, and no row is lost", () =>
      Effect.sync(() => {
        const row = (label: string, ms: number) => {
          const h = newHistogram()
          h.recordValue(ms * 1000)
          return { label, count: 1, errors: 0, bytesIn: 0, bytesOut: 0, latencyMs: { min: ms, mean: ms, max: ms, p50: ms, p90: ms, p95: ms, p99: ms }, status: { "200": 1 }, hdr: encodeHistogram(h) }
        }
        const w = { testId: "t", nodeId: "n", seq: 0, start: 0, end: 1000, final: true, labels: ["a", "b", "c", "d"].map((l, i) => row(l, 3 + i * 100)) } as unknown as ResultWindow
        const m = new RunMetrics("run", { maxLabels: 2 })
        m.add(w)
        const text = m.text()
        expect(text).toContain(`grid_run_requests_total{label="__other__"} 2`)
        expect(text).toContain(`grid_run_request_duration_seconds_bucket{label="a",le="0.005"} 1`)
        expect(text).toContain(`grid_run_request_duration_seconds_bucket{label="__other__",le="0.25"} 1`)
        expect(text).toContain(`grid_run_request_duration_seconds_count{label="__other__"} 2`)
        expect(m.requests).toBe(4)
        expect(promtoolCheck(text).status).toBe(0)
      }))
  })
})
