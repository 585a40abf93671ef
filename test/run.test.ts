// `grid run` and `grid engine` as real processes against a real target in this process:
// thresholds set the exit code, --out and --html are written, SIGINT mid-run still prints
// the summary and leaves no connection open, bad input is rejected before any request,
// `grid engine` writes a JTL the ingestion parser reads back exactly and stops cleanly on
// SIGTERM, and the HTML report renders in headless Chromium with its charts.
import { layer } from "@effect/vitest"
import { Clock, Context, Effect, Layer } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect } from "vitest"
import { jmeterCsv } from "../src/ingest/parsers/JMeterCsv.ts"
import type { Sample } from "../src/ingest/Sample.ts"
import { JTL_HEADER } from "../src/engine/JtlWriter.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { spawnGrid } from "./support/gridCli.ts"
import { waitUntil } from "./support/WireClient.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/run/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({
    port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: { "/slow": { latencyMs: 20, errorRate: 0 } }
  }))
}
/** Where scenarios and outputs are written; removed with the suite. */
class Dir extends Context.Service<Dir, string>()("test/run/Dir") {
  static readonly layer = Layer.effect(Dir, Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "grid-run-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ))
}
const env = Layer.mergeAll(Target.layer, Dir.layer)

const scenario = (name: string, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const file = join(yield* Dir, `${name}.json`)
    writeFileSync(file, JSON.stringify({ target: (yield* Target).url, ...body }))
    return file
  })

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** From the signal when one was sent, else from the start. */
  readonly ms: number
}

/** Runs the CLI; `signal` is sent once `when` holds (polled), so a slow start cannot race it. */
const grid = (args: Array<string>, signal?: { readonly name: NodeJS.Signals; readonly when: () => boolean }): Effect.Effect<Ran> =>
  Effect.scoped(Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const child = yield* spawnGrid(args)
    let sentAt = 0
    if (signal !== undefined) {
      yield* waitUntil(`the moment to send ${signal.name}`, Effect.sync(signal.when), "60 seconds").pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.map((now) => {
          sentAt = now
          child.child.kill(signal.name)
        }),
        Effect.ignore,
        Effect.forkScoped
      )
    }
    const code = yield* child.exited
    const ended = yield* Clock.currentTimeMillis
    return { code, stdout: child.stdout(), stderr: child.stderr(), ms: ended - (sentAt || started) }
  }))

const hits = (path: string) => Effect.map(Target, (target) => () => target.stats.paths[path] ?? 0)

layer(env, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
  describe("grid run", () => {
    it.effect("passes thresholds with exit 0 and writes --out", () =>
      Effect.gen(function*() {
        const file = yield* scenario("ok", {
          requests: [{ name: "home", path: "/ok", thinkTimeMs: 300 }], // at ~0, 300, 600, 900 ms
          load: { model: "closed", users: 2, durationSeconds: 1 },
          thresholds: ["p95 < 1s", "errors < 1%"]
        })
        const out = join(yield* Dir, "ok-summary.json")
        const okHits = yield* hits("/ok")
        const before = okHits()
        const r = yield* grid(["run", file, "--out", out])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout).toMatch(/TOTAL\s+8\s/)
        const summary = JSON.parse(readFileSync(out, "utf8"))
        expect(okHits() - before).toBe(8)
        expect(summary.total.count).toBe(8)
        expect(summary.labels.map((l: { label: string }) => l.label)).toEqual(["home"])
        expect(summary.thresholds.every((t: { ok: boolean }) => t.ok)).toBe(true)
        expect(summary.windows.length).toBeGreaterThanOrEqual(1)
        // The run went through the daemon's runner and ingestion: its terminal event agrees.
        expect(summary.node).toMatchObject({ kind: "finished", nodeId: "local", summary: { count: 8, errors: 0 }, cleanup: { ok: true } })
        expect(summary.node.cleanup.removed).toContain("in-process tool")
        expect(summary.node).toMatchObject({ kind: "finished" })
        // The summary is the node's own windows, folded: their counts add up to it, and to the
        // node's terminal summary.
        const windows = summary.windows as Array<{ count: number; errors: number }>
        expect(windows.reduce((n, w) => n + w.count, 0)).toBe(summary.total.count)
        expect(windows.reduce((n, w) => n + w.errors, 0)).toBe(summary.total.errors)
        expect(summary.total.count).toBe(summary.node.summary.count)
        expect(summary.total.errors).toBe(summary.node.summary.errors)
      }))

    it.effect("exits 99 and names the breached threshold", () =>
      Effect.gen(function*() {
        const file = yield* scenario("breach", {
          requests: [{ name: "slow", path: "/slow" }],
          load: { model: "open", rate: 20, durationSeconds: 1 },
          thresholds: ["slow: p95 < 5ms", "errors < 1%"]
        })
        const r = yield* grid(["run", file])
        expect(r.code).toBe(99)
        expect(r.stderr).toContain("thresholds breached: slow: p95 < 5ms")
        expect(r.stdout).toMatch(/BREACH\s+slow: p95 < 5ms/)
        expect(r.stdout).toMatch(/ok\s+errors < 1%/)
      }))

    it.effect("rejects an invalid scenario with every problem, before any request", () =>
      Effect.gen(function*() {
        const file = yield* scenario("invalid", {
          requests: [{ name: "x", path: "x" }, { name: "y", path: "/y", method: "FETCH" }],
          load: { model: "closed", users: 0 },
          thresholds: ["p95 < soon"]
        })
        const target = yield* Target
        const before = target.stats.total
        const r = yield* grid(["run", file])
        expect(r.code).toBe(1)
        for (const p of ["requests[0].path", "requests[1].method", "load.users", "thresholds[0]"]) expect(r.stderr).toContain(p)
        expect(target.stats.total).toBe(before)
      }))

    it.effect("fails fast on an unreachable target with the connection error", () =>
      Effect.gen(function*() {
        const file = yield* scenario("unreachable", { requests: [{ name: "x", path: "/" }], load: { model: "closed", users: 1, durationSeconds: 60 } })
        const r = yield* grid(["run", file, "--target", "http://127.0.0.1:1"])
        expect(r.code).toBe(1)
        expect(r.stderr).toMatch(/cannot connect to http:\/\/127\.0\.0\.1:1: ECONNREFUSED/)
        expect(r.ms).toBeLessThan(10_000)
      }))

    it.effect("on SIGINT mid-run aborts, prints and writes the summary, leaves no socket open", () =>
      Effect.gen(function*() {
        const file = yield* scenario("sigint", { requests: [{ name: "slow", path: "/slow" }], load: { model: "closed", users: 10, durationSeconds: 60 } })
        const out = join(yield* Dir, "sigint.json")
        const slowHits = yield* hits("/slow")
        const before = slowHits()
        const r = yield* grid(["run", file, "--out", out], { name: "SIGINT", when: () => slowHits() - before >= 50 })
        expect(r.code).toBe(130)
        expect(r.ms).toBeLessThan(5_000)
        expect(r.stdout).toMatch(/\(interrupted\)/)
        expect(r.stdout).toMatch(/TOTAL\s+\d+/)
        const summary = JSON.parse(readFileSync(out, "utf8"))
        expect(summary.interrupted).toBe(true)
        expect(summary.total.count).toBeGreaterThan(0)
        yield* Effect.sleep("200 millis")
        expect((yield* Target).connections()).toBe(0)
      }))
  })

  describe("grid engine", () => {
    const parse = (file: string) => {
      const samples: Array<Sample> = []
      const parser = jmeterCsv((s) => void samples.push(s))
      parser.push(readFileSync(file))
      parser.end()
      return { samples, bad: parser.bad.toJSON().count }
    }

    it.effect("writes every sample as a JMeter 5 JTL the ingestion parser reads back exactly", () =>
      Effect.gen(function*() {
        const file = yield* scenario("engine", {
          requests: [{ name: "a", path: "/e1" }, { name: "b,quoted", path: "/e2?status=503", expect: [200] }],
          load: { model: "open", rate: 40, durationSeconds: 1 }
        })
        const jtl = join(yield* Dir, "engine.jtl")
        const [e1, e2] = [yield* hits("/e1"), yield* hits("/e2")]
        const before = e1() + e2()
        const r = yield* grid(["engine", file, "--results", jtl])
        expect(r.code, r.stderr).toBe(0)
        const text = readFileSync(jtl, "utf8")
        expect(text.split("\n")[0]).toBe(JTL_HEADER)
        const { samples, bad } = parse(jtl)
        expect(bad).toBe(0)
        expect(samples.length).toBe(80)
        expect(e1() + e2() - before).toBe(80)
        expect(samples.filter((s) => s.label === "b,quoted").every((s) => !s.success && s.status === "503")).toBe(true)
        expect(samples.filter((s) => s.label === "a").every((s) => s.success && s.status === "200" && s.bytesIn > 0)).toBe(true)
      }))

    it.effect("stops cleanly on SIGTERM: exit 0, file flushed and complete", () =>
      Effect.gen(function*() {
        const file = yield* scenario("engine-term", { requests: [{ name: "slow", path: "/slow" }], load: { model: "closed", users: 4, durationSeconds: 60 } })
        const jtl = join(yield* Dir, "term.jtl")
        const slowHits = yield* hits("/slow")
        const before = slowHits()
        const r = yield* grid(["engine", file, "--results", jtl], { name: "SIGTERM", when: () => slowHits() - before >= 20 })
        expect(r.code).toBe(0)
        expect(r.ms).toBeLessThan(5_000)
        const text = readFileSync(jtl, "utf8")
        expect(text.endsWith("\n")).toBe(true)
        const { samples, bad } = parse(jtl)
        expect(bad).toBe(0)
        expect(samples.length).toBeGreaterThan(10)
        expect(r.stdout).toContain(`stopped: ${samples.length} samples written`)
      }))

    it.effect("exits 2 on an invalid scenario and writes no file", () =>
      Effect.gen(function*() {
        const file = yield* scenario("engine-bad", { requests: [], load: { model: "open" } })
        const jtl = join(yield* Dir, "bad.jtl")
        const r = yield* grid(["engine", file, "--results", jtl])
        expect(r.code).toBe(2)
        expect(r.stderr).toContain("load.rate")
        expect(existsSync(jtl)).toBe(false)
      }))
  })

  describe("grid run --html", () => {
    it.effect("renders in headless Chromium with its charts", () =>
      Effect.gen(function*() {
        const chromium = ["chromium", "chromium-browser", "google-chrome"].find((c) => spawnSync("which", [c]).status === 0)
        // A missing browser is a failure, never a skip: .ci/run installs Debian's chromium.
        expect(chromium, "chromium is required (apt-get install chromium)").toBeDefined()
        const file = yield* scenario("html", {
          name: "Checkout <smoke>",
          requests: [{ name: "page", path: "/page" }, { name: "slow", path: "/slow" }],
          load: { model: "open", rate: 30, durationSeconds: 2 }
        })
        const dir = yield* Dir
        const html = join(dir, "report.html")
        const r = yield* grid(["run", file, "--html", html])
        expect(r.code, r.stderr).toBe(0)
        const dom = spawnSync(chromium!, [
          "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
          `--user-data-dir=${join(dir, "chromium-profile")}`, "--dump-dom", `file://${html}`
        ], { encoding: "utf8", timeout: 60_000 })
        expect(dom.status, dom.stderr).toBe(0)
        // The charts are uPlot canvases, drawn by the page's own inlined scripts.
        for (const id of ["chart-rps", "chart-latency", "chart-errors"]) {
          const section = new RegExp(`<section class="chart" id="${id}"[^>]*>[\\s\\S]*?</section>`).exec(dom.stdout)?.[0] ?? ""
          expect(section, id).toMatch(/<canvas[^>]*>/)
          expect(section, id).toMatch(/data-points="\d+"/)
        }
        expect(dom.stdout).toMatch(/<td>page<\/td><td>\d+<\/td>/)
        // Titled by the scenario's name, escaped (not the file name).
        expect(dom.stdout).toContain("<title>Checkout &lt;smoke&gt;</title>")
        expect(dom.stdout).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?https?:/i)
      }))
  })
})
