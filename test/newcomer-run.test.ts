// What a newcomer hit with `grid run` (issue 12): every flag checked before anything starts and
// named as typed, one duration syntax, `--out -`, a missing file said plainly, no log lines in a
// run's output, thresholds with units, rows in scenario order, percentiles within min..max, a
// final progress line, and the open model's progress in arrivals rather than users.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { CliOutput } from "effect/cli"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect } from "vitest"
import { Aggregator } from "../src/ingest/Aggregator.ts"
import { Totals } from "../src/report/Totals.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { presenterLayer } from "../src/cli/presenter.ts"
import { runGrid as grid } from "./support/gridCli.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/newcomer-run/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} }))
}
/** Where scenarios are written; removed with the suite. */
class Dir extends Context.Service<Dir, string>()("test/newcomer-run/Dir") {
  static readonly layer = Layer.effect(Dir, Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "grid-newcomer-"))),
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

layer(env, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
  const closed = { requests: [{ name: "home", path: "/" }], load: { model: "closed", users: 1, durationSeconds: 1 } }

  describe("grid run checks every flag before anything starts", () => {
    it.effect.each<[Array<string>, string]>([
      [["--users", "0"], "--users 0: must be at least 1"],
      [["--users", "-3"], "--users -3: must be at least 1"],
      [["--duration", "-5"], "--duration"],
      [["--duration", "0"], "--duration 0s: must be more than 0"],
      [["--rate", "0"], "--rate 0: must be more than 0"],
      [["--ramp-up", "20s", "--duration", "10s"], "--ramp-up 20s: longer than --duration 10s"],
      [["--ramp-up", "soon"], "--ramp-up"],
      [["--target", "localhost:8080"], "--target localhost:8080: not an http(s) URL"],
      [["--out", "/no/such/dir/s.json"], "--out /no/such/dir/s.json: no such directory"]
    ])("%j is refused naming the flag, nothing sent", ([flags, message]) =>
      Effect.gen(function*() {
        const file = yield* scenario("flags", closed)
        const target = yield* Target
        const before = target.stats.total
        const r = yield* grid(["run", file, ...flags])
        expect(r.code).toBe(1)
        expect(r.stderr).toContain(message)
        expect(r.stderr).not.toMatch(/params\.|load\.|rampUpSeconds/)
        // No header line, no help page before the error.
        expect(r.stdout).toBe("")
        expect(target.stats.total).toBe(before)
      }))

    it.effect("takes one duration syntax: 500ms, 1s and a bare number of seconds", () =>
      Effect.gen(function*() {
        const file = yield* scenario("durations", closed)
        for (const d of ["1500ms", "1s", "1"]) {
          const r = yield* grid(["run", file, "--duration", d, "--out", "-"])
          expect(r.code).toBe(0)
          const summary = JSON.parse(r.stdout)
          expect(Math.round(summary.durationMs / 500) * 500).toBe(d === "1500ms" ? 1500 : 1000)
        }
      }))

    it.effect("says no such file for a missing scenario", () =>
      Effect.gen(function*() {
        const missing = join(yield* Dir, "missing.yaml")
        const r = yield* grid(["run", missing])
        expect(r.code).toBe(1)
        expect(r.stderr.trim()).toBe(`no such file: ${missing}`)
      }))

    it.effect("a flag it cannot parse: the error alone, not after the help page", () =>
      Effect.gen(function*() {
        // The presenter main.ts installs (effect/cli's default prints the whole help page first).
        let printed = ""
        // console.error is captured for this test only, whatever happens in it.
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            const original = console.error
            console.error = (s: string) => (printed += s)
            return original
          }),
          (original) => Effect.sync(() => (console.error = original))
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const presenter = yield* CliOutput.Presenter
          yield* presenter.present({
            _tag: "InvalidInvocation",
            commandPath: ["grid", "run"],
            helpDoc: { description: "x", usage: "grid run", flags: [], args: [] } as never,
            errors: [{ message: "Invalid value for flag --users: \"x\"" } as never]
          })
        }).pipe(Effect.provide(presenterLayer)))
        expect(printed).toBe("grid run: Invalid value for flag --users: \"x\"\n(grid run --help lists every flag, with examples)")
      }))
  })

  describe("grid run's output", () => {
    it.effect("--out - writes the JSON alone to stdout; no log lines; units, order, final line", () =>
      Effect.gen(function*() {
        const file = yield* scenario("output", {
          requests: [{ name: "zeta", path: "/z" }, { name: "alpha", path: "/a" }],
          load: { model: "open", rate: 20, durationSeconds: 2 },
          thresholds: ["p95 < 1s", "errors < 1%", "rps > 1", "zeta: count > 1"]
        })
        const piped = yield* grid(["run", file, "--out", "-"])
        expect(piped.code).toBe(0)
        const summary = JSON.parse(piped.stdout)
        expect(summary.labels.map((l: { label: string }) => l.label)).toEqual(["zeta", "alpha"])
        expect(piped.stderr).toContain("grid run")

        const r = yield* grid(["run", file])
        expect(r.code).toBe(0)
        expect(r.stdout).not.toMatch(/INFO|listening for commands/)
        // Thresholds say their unit.
        expect(r.stdout).toMatch(/p95 < 1s\s+\(actual [\d.]+ ms\)/)
        expect(r.stdout).toMatch(/errors < 1%\s+\(actual [\d.]+%\)/)
        expect(r.stdout).toMatch(/rps > 1\s+\(actual [\d.]+ req\/s\)/)
        expect(r.stdout).toMatch(/zeta: count > 1\s+\(actual \d+ requests\)/)
        // Rows in the scenario's order.
        expect(r.stdout.indexOf("\nzeta")).toBeLessThan(r.stdout.indexOf("\nalpha"))
        // A final progress line at the planned end; the open model shows arrivals, not users.
        expect(r.stdout).toMatch(/^0:02 \/ 0:02 /m)
        expect(r.stdout).toMatch(/arrivals\/s \d+\s+in flight \d+/)
        expect(r.stdout).not.toMatch(/ users \d/)
        expect(r.stdout).toMatch(/last second: rps \d+/)
        expect(r.stdout).toMatch(/so far: errors \d+/)
      }))

    it("percentiles never exceed the recorded max nor fall below the min", () => {
      // The path every summary takes: samples into windows, windows into the one accumulator.
      const agg = new Aggregator({ windowMs: 1000, startedAt: 0 })
      const totals = new Totals()
      for (const latencyMs of [300, 30_000]) {
        agg.add({ timestamp: 10, label: `l${latencyMs}`, latencyMs, success: true, status: "200", bytesIn: 0, bytesOut: 0 })
      }
      agg.closeThrough(agg.seqAt(999), (w) => totals.addWindow(w))
      const s = totals.summary({ startedAt: 0, durationMs: 1000, order: [], dropped: 0, interrupted: false })
      for (const l of [...s.labels, s.total]) {
        for (const p of ["p50", "p90", "p95", "p99"] as const) {
          expect(l.latencyMs[p]).toBeLessThanOrEqual(l.latencyMs.max)
          expect(l.latencyMs[p]).toBeGreaterThanOrEqual(l.latencyMs.min)
        }
      }
    })
  })
})
