// A browser scenario through the CLI with real Chromium: `grid run` (the node's in-process
// runner and ingestion) prints the steps and page metrics and judges a p75 threshold on
// `home:lcp`; Ctrl-C mid-run still prints the summary and leaves no Chromium behind; `grid
// engine` (the daemon's builtin child) writes the same samples to its JTL and, stopped by
// SIGTERM as a runner stops it, leaves no Chromium either. Chromium processes are found by a
// marker in their environment (they inherit grid's), so an orphan adopted by PID 1 counts.
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, FileSystem } from "effect"
import { serveTarget } from "../src/engine/TargetServer.ts"
import { runGrid, spawnGrid } from "./support/gridCli.ts"

const target = serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: { "/browser": { latencyMs: 50, errorRate: 0 } } })

/** Live processes whose environment holds GRID_TEST_MARK=<mark>. */
const marked = (mark: string): Array<number> =>
  readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      return readFileSync(`/proc/${p}/environ`, "latin1").split("\0").includes(`GRID_TEST_MARK=${mark}`) ? [Number(p)] : []
    } catch {
      return []
    }
  })

const scenarioYaml = (url: string, seconds: number) => `
target: ${url}
browser:
  usersPerBrowser: 2
  steps:
    - name: home
      goto: /browser?delay=100
    - name: search
      fill: { selector: "#q", value: "grid" }
    - name: submit
      click: "#go"
      waitFor: "#results"
    - name: check
      expectText: { selector: "#results", text: "found" }
load: { model: closed, users: 2, durationSeconds: ${seconds} }
thresholds:
  - "home:lcp p75 < 10s"
  - "check: errors < 1%"
`

const withDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "grid-browser-" }))

describe("browser scenarios through the CLI", () => {
  it.live("grid run: steps and page metrics in the summary, a p75 threshold on home:lcp judged", () =>
    Effect.scoped(Effect.gen(function*() {
      const t = yield* target
      const dir = yield* withDir
      const file = join(dir, "browser.yaml")
      writeFileSync(file, scenarioYaml(t.url, 6))
      const out = join(dir, "summary.json")
      const r = yield* runGrid(["run", file, "--out", out])
      expect(r.stderr).toBe("")
      expect(r.code).toBe(0)
      const doc = JSON.parse(readFileSync(out, "utf8")) as { labels: Array<{ label: string; count: number; errors: number; latencyMs: { p75?: number } }>; thresholds: Array<{ ok: boolean }> }
      const label = (name: string) => doc.labels.find((l) => l.label === name)
      expect(label("home")!.count).toBe(t.stats.paths["/browser"])
      for (const name of ["search", "submit", "check"]) expect(label(name)!.errors).toBe(0)
      expect(label("home:ttfb")!.count).toBe(label("home")!.count)
      expect(label("home:lcp")!.latencyMs.p75).toBeGreaterThan(0)
      expect(doc.thresholds.map((x) => x.ok)).toEqual([true, true])
      expect(r.stdout).toMatch(/home:lcp/)
    }).pipe(Effect.provide(NodeServices.layer))), 120_000)

  it.live("grid run: Ctrl-C mid-run prints the summary and leaves no Chromium", () =>
    Effect.scoped(Effect.gen(function*() {
      const t = yield* target
      const dir = yield* withDir
      const file = join(dir, "browser.yaml")
      writeFileSync(file, scenarioYaml(t.url, 120))
      const mark = `run-${process.pid}-${Date.now()}`
      const p = yield* spawnGrid(["run", file], { GRID_TEST_MARK: mark })
      while ((t.stats.paths["/browser"] ?? 0) < 3) yield* Effect.sleep(Duration.millis(100))
      expect(marked(mark).length).toBeGreaterThan(1) // grid and its Chromium processes
      p.child.kill("SIGINT")
      const code = yield* p.exited
      expect(code).toBe(130)
      expect(p.stdout()).toMatch(/home/)
      expect(marked(mark)).toEqual([])
    }).pipe(Effect.provide(NodeServices.layer))), 120_000)

  it.live("grid engine: samples in the JTL; SIGTERM as a runner sends it leaves no Chromium", () =>
    Effect.scoped(Effect.gen(function*() {
      const t = yield* target
      const dir = yield* withDir
      const file = join(dir, "browser.yaml")
      writeFileSync(file, scenarioYaml(t.url, 120))
      const jtl = join(dir, "out.jtl")
      const mark = `engine-${process.pid}-${Date.now()}`
      const p = yield* spawnGrid(["engine", file, "--results", jtl, "--screenshots", join(dir, "shots")], { GRID_TEST_MARK: mark })
      while ((t.stats.paths["/browser"] ?? 0) < 3) yield* Effect.sleep(Duration.millis(100))
      yield* Effect.sleep(Duration.seconds(1)) // a JTL flush
      p.child.kill("SIGTERM")
      expect(yield* p.exited).toBe(0)
      expect(marked(mark)).toEqual([])
      const rows = readFileSync(jtl, "utf8").trim().split("\n").slice(1).map((l) => l.split(","))
      const home = rows.filter((r) => r[2] === "home")
      expect(home.length).toBeGreaterThanOrEqual(2)
      expect(rows.some((r) => r[2] === "home:lcp")).toBe(true)
    }).pipe(Effect.provide(NodeServices.layer))), 120_000)
})
