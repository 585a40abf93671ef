// The built-in engine as N worker processes (#19): the load split exactly (closed users at every
// instant of a ramp, open arrivals k mod N, data rows), worker windows merged into the one
// ingestion path with totals, statuses and histograms equal to feeding every sample, and real
// `grid run --workers 2` / `grid engine --workers 2` runs whose summary count equals what the
// target served, for the closed and open models and a staged ramp. A worker that dies fails the
// run with its error (or the run goes on, saying so); SIGINT ends every worker with the summary
// still exact; a SIGKILLed parent's workers end on their own.
import { layer } from "@effect/vitest"
import { Clock, Context, Effect, Layer } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it as plain } from "vitest"
import { Aggregator, type ClosedWindow } from "../src/ingest/Aggregator.ts"
import { jmeterCsv } from "../src/ingest/parsers/JMeterCsv.ts"
import type { Sample } from "../src/ingest/Sample.ts"
import { quotaCores } from "../src/engine/Cores.ts"
import { arrivalSchedule, closedProfile } from "../src/engine/LoadModels.ts"
import { defaultWorkers, ownsArrival, rowsOf, shareOf, splitInt, usefulWorkers } from "../src/engine/LoadSplit.ts"
import type { Scenario } from "../src/engine/Scenario.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { RowMerger, WorkerWindows } from "../src/engine/WorkerRows.ts"
import { readWorkerLine, workerLine } from "../src/engine/WorkerWire.ts"
import { spawnGrid } from "./support/gridCli.ts"
import { waitUntil } from "./support/WireClient.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/engine-workers/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} }))
}
class Dir extends Context.Service<Dir, string>()("test/engine-workers/Dir") {
  static readonly layer = Layer.effect(Dir, Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "grid-workers-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ))
}

const scenario = (name: string, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const file = join(yield* Dir, `${name}.json`)
    writeFileSync(file, JSON.stringify({ target: (yield* Target).url, ...body }))
    return file
  })

const served = (path: string) => Effect.map(Target, (t) => t.stats.paths[path] ?? 0)

/** Live pids of the `grid engine --worker` processes whose parent is `ppid`. */
const workersOf = (ppid: number): Array<number> =>
  readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return Number(fields[1]) === ppid && fields[0] !== "Z" && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--worker")
    } catch {
      return false
    }
  })

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

const runSummary = (file: string, out: string, extra: Array<string> = []) =>
  Effect.scoped(Effect.gen(function*() {
    const p = yield* spawnGrid(["run", file, "--workers", "2", "--out", out, ...extra])
    const code = yield* p.exited
    return { code, stderr: p.stderr(), summary: code === 0 ? JSON.parse(readFileSync(out, "utf8")) : undefined }
  }))

describe("splitting one node's load over workers", () => {
  plain("closed: the workers' users add up to the profile's at every instant of a ramp and stages", () => {
    const profiles = [
      closedProfile({ model: "closed", users: 10, rampUpSeconds: 3, durationSeconds: 5 }),
      closedProfile({ model: "closed", stages: [{ durationSeconds: 2, users: 7 }, { durationSeconds: 1, users: 7 }, { durationSeconds: 2, users: 0 }] })
    ]
    for (const target of profiles) {
      for (let t = 0; t <= 5000; t += 37) {
        const want = Math.ceil(target(t) - 1e-9) + 0 // no -0
        for (const n of [1, 2, 3, 4, 16]) {
          const parts = Array.from({ length: n }, (_, index) => shareOf(want, { index, count: n }))
          expect(parts.reduce((a, b) => a + b, 0)).toBe(want)
          expect(parts).toEqual(splitInt(want, n)) // the controller's split, element by element
        }
      }
    }
  })

  plain("open: arrival k is worker k mod N's, so the merged instants are the schedule itself", () => {
    const load = { model: "open" as const, stages: [{ durationSeconds: 2, rate: 90 }, { durationSeconds: 1, rate: 7.5 }] }
    const all: Array<number> = []
    const next = arrivalSchedule(load, 3000)
    for (let t = next(); t !== Infinity; t = next()) all.push(t)
    for (const n of [2, 3, 5]) {
      const merged: Array<number> = []
      for (let index = 0; index < n; index++) {
        const mine = arrivalSchedule(load, 3000)
        let k = 0
        for (let t = mine(); t !== Infinity; t = mine()) if (ownsArrival(k++, { index, count: n })) merged.push(t)
      }
      expect(merged.sort((a, b) => a - b)).toEqual(all)
    }
  })

  plain("data rows are partitioned round-robin, or shared when fewer than the workers", () => {
    const rows = ["a", "b", "c", "d", "e"]
    expect(rowsOf(rows, { index: 0, count: 2 })).toEqual(["a", "c", "e"])
    expect(rowsOf(rows, { index: 1, count: 2 })).toEqual(["b", "d"])
    expect(rowsOf(["a"], { index: 1, count: 2 })).toEqual(["a"])
  })

  plain("the node's default: its cores for a run of 10 s or more, one engine for a shorter one or setup", () => {
    const base = { setup: [], teardown: [], browser: undefined }
    const run = (durationMs: number, load: Record<string, unknown>) => ({ ...base, durationMs, load }) as unknown as Scenario
    expect(defaultWorkers(run(10_000, { model: "closed", users: 50 }), 8)).toBe(8)
    expect(defaultWorkers(run(2_000, { model: "closed", users: 50 }), 8)).toBe(1)
    expect(usefulWorkers(run(60_000, { model: "closed", users: 3 }), 8)).toBe(3)
    expect(usefulWorkers(run(60_000, { model: "closed", stages: [{ durationSeconds: 60, users: 5 }] }), 8)).toBe(5)
    expect(usefulWorkers(run(60_000, { model: "open", rate: 10, maxConnections: 2 }), 8)).toBe(2)
    expect(usefulWorkers({ ...run(60_000, { model: "closed", users: 50 }), setup: [{ name: "s", path: "/" }] } as unknown as Scenario, 8)).toBe(1)
  })

  plain("a cgroup's CPU quota bounds the cores", () => {
    expect(quotaCores("250000 100000")).toBe(2.5)
    expect(quotaCores("max 100000")).toBeUndefined()
    expect(quotaCores(undefined, "-1", "100000")).toBeUndefined()
    expect(quotaCores(undefined, "50000", "100000")).toBe(0.5)
  })
})

describe("worker windows", () => {
  plain("rows merged into ingestion give the totals, statuses and histogram of every sample fed directly", () => {
    const direct = new Aggregator({ windowMs: 1000, startedAt: 1_000_000 })
    const viaRows = new Aggregator({ windowMs: 1000, startedAt: 1_000_000 })
    const worker = new WorkerWindows()
    const merger = new RowMerger(viaRows.add)
    const statuses = ["200", "200", "200", "503", "Non HTTP response code: ECONNRESET"]
    for (let i = 0; i < 20_000; i++) {
      const s: Sample = {
        timestamp: 1_000_000 + i * 0.25,
        label: i % 3 === 0 ? "a" : "b",
        latencyMs: i % 997 === 0 ? Number.NaN : 0.05 + ((i * 7919) % 10_000) / 37,
        success: i % 5 < 3,
        status: statuses[i % 5]!,
        bytesIn: 100 + (i % 7),
        bytesOut: 50
      }
      direct.add(s)
      worker.sink(s)
    }
    // Through the pipe's own encoding and Schema, as the parent reads them.
    for (const row of worker.rest(1_010_000)) {
      const m = readWorkerLine(workerLine({ t: "rows", rows: [row] }))
      if (m?.t !== "rows") throw new Error("row did not decode")
      merger.add(m.rows[0]!)
    }
    const fold = (agg: Aggregator) => {
      const out: Array<ClosedWindow> = []
      const figures: Array<unknown> = []
      agg.closeThrough(10, (w) => {
        out.push(w)
        // Sums are added in another order: equal to the last few bits.
        for (const acc of w.labels) {
          const st = acc.stats()
          figures.push({ seq: w.seq, ...st, latencyMs: { ...st.latencyMs, mean: st.latencyMs.mean.toFixed(9) }, sum: acc.sum.toFixed(6) })
        }
      })
      return figures
    }
    expect(fold(viaRows)).toEqual(fold(direct))
  })
})

layer(Layer.mergeAll(Target.layer, Dir.layer), { excludeTestServices: true, timeout: "240 seconds" })((it) => {
  describe("grid run --workers 2", () => {
    it.effect("closed model: the summary counts exactly what the target served, from both workers", () =>
      Effect.gen(function*() {
        const file = yield* scenario("closed", { requests: [{ name: "c", path: "/closed" }], load: { model: "closed", users: 4, durationSeconds: 2 } })
        const r = yield* runSummary(file, join(yield* Dir, "closed-out.json"))
        expect(r.code, r.stderr).toBe(0)
        expect(r.summary.total.count).toBeGreaterThan(0)
        expect(r.summary.total.count).toBe(yield* served("/closed"))
        expect(r.summary.windows.reduce((n: number, w: { count: number }) => n + w.count, 0)).toBe(r.summary.total.count)
        // The workers' CPU counts: the node's own process only merges their rows.
        expect(r.summary.generatorCpuMs).toBeGreaterThan(0)
      }))

    it.effect("open model with stages: every scheduled arrival, once, and exact totals", () =>
      Effect.gen(function*() {
        const file = yield* scenario("open", {
          requests: [{ name: "o", path: "/open" }],
          load: { model: "open", stages: [{ durationSeconds: 1, rate: 60 }, { durationSeconds: 1, rate: 21 }] }
        })
        const r = yield* runSummary(file, join(yield* Dir, "open-out.json"))
        expect(r.code, r.stderr).toBe(0)
        // The schedule's own count: the integral of the rate (30 + 40.5) and arrival 0 at t=0.
        const expected = (() => {
          const next = arrivalSchedule({ model: "open", stages: [{ durationSeconds: 1, rate: 60 }, { durationSeconds: 1, rate: 21 }] }, 2000)
          let n = 0
          while (next() !== Infinity) n++
          return n
        })()
        expect(r.summary.total.count).toBe(expected)
        expect(yield* served("/open")).toBe(expected)
      }))

    it.effect("staged closed ramp: exact totals", () =>
      Effect.gen(function*() {
        const file = yield* scenario("ramp", {
          requests: [{ name: "r", path: "/ramp", thinkTimeMs: 5 }],
          load: { model: "closed", stages: [{ durationSeconds: 1, users: 5 }, { durationSeconds: 1, users: 1 }] }
        })
        const r = yield* runSummary(file, join(yield* Dir, "ramp-out.json"))
        expect(r.code, r.stderr).toBe(0)
        expect(r.summary.total.count).toBeGreaterThan(0)
        expect(r.summary.total.count).toBe(yield* served("/ramp"))
      }))

    it.effect("SIGINT reaches every worker; the summary is printed with every answered request", () =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* scenario("int", { requests: [{ name: "i", path: "/int" }], load: { model: "closed", users: 4, durationSeconds: 60 } })
        const out = join(yield* Dir, "int-out.json")
        const p = yield* spawnGrid(["run", file, "--workers", "2", "--out", out])
        const pid = p.child.pid!
        yield* waitUntil("two workers sending load", Effect.map(served("/int"), (n) => n > 100 && workersOf(pid).length === 2), "90 seconds")
        const workers = workersOf(pid)
        // To grid run alone, not its process group: it must tell its workers itself.
        p.child.kill("SIGINT")
        const code = yield* p.exited
        expect(code).toBe(130)
        expect(workers.filter(alive)).toEqual([])
        // Every answered request counts; only those in flight at the stop (one per user at most)
        // were aborted unanswered, as with one engine.
        const summary = JSON.parse(readFileSync(out, "utf8"))
        const target = yield* served("/int")
        expect(summary.total.count).toBeLessThanOrEqual(target)
        expect(summary.total.count).toBeGreaterThanOrEqual(target - 4)
      })))

    it.effect("a worker that dies fails the run with its error", () =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* scenario("die", { requests: [{ name: "d", path: "/die" }], load: { model: "closed", users: 4, durationSeconds: 60 } })
        const p = yield* spawnGrid(["run", file, "--workers", "2"])
        const pid = p.child.pid!
        yield* waitUntil("two workers sending load", Effect.map(served("/die"), (n) => n > 100 && workersOf(pid).length === 2), "90 seconds")
        const [victim, other] = workersOf(pid)
        process.kill(victim!, "SIGKILL")
        const started = yield* Clock.currentTimeMillis
        const code = yield* p.exited
        expect(code).toBe(1)
        expect(p.stderr()).toMatch(/engine worker \d of 2 was killed by SIGKILL/)
        expect(alive(other!)).toBe(false)
        expect((yield* Clock.currentTimeMillis) - started).toBeLessThan(50_000)
      })))
  })

  describe("grid engine --workers 2", () => {
    it.effect("writes one JTL holding every worker's samples, exactly what the target served", () =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* scenario("jtl", { requests: [{ name: "j", path: "/jtl" }], load: { model: "closed", users: 4, durationSeconds: 2 } })
        const jtl = join(yield* Dir, "out.jtl")
        const p = yield* spawnGrid(["engine", file, "--results", jtl, "--workers", "2"])
        expect(yield* p.exited, p.output()).toBe(0)
        expect(p.stdout()).toContain("2 workers")
        const samples: Array<Sample> = []
        const parser = jmeterCsv((s) => samples.push(s))
        parser.push(readFileSync(jtl))
        parser.end()
        expect(parser.bad.toJSON().count).toBe(0)
        expect(samples.length).toBeGreaterThan(0)
        expect(samples.length).toBe(yield* served("/jtl"))
      })))

    it.effect("--on-worker-exit continue goes on at reduced load and says so", () =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* scenario("cont", { requests: [{ name: "k", path: "/cont" }], load: { model: "closed", users: 4, durationSeconds: 8 } })
        const jtl = join(yield* Dir, "cont.jtl")
        const p = yield* spawnGrid(["engine", file, "--results", jtl, "--workers", "2", "--on-worker-exit", "continue"])
        const pid = p.child.pid!
        yield* waitUntil("two workers sending load", Effect.map(served("/cont"), (n) => n > 100 && workersOf(pid).length === 2), "90 seconds")
        process.kill(workersOf(pid)[0]!, "SIGKILL")
        expect(yield* p.exited, p.output()).toBe(0)
        expect(p.stderr()).toMatch(/continuing at reduced load \(1 of 2 workers\)/)
        expect(p.stdout()).toContain("1 of 2 workers lost")
      })))

    it.effect("a SIGKILLed parent's workers end on their own (their stdin closes)", () =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* scenario("orphan", { requests: [{ name: "x", path: "/orphan" }], load: { model: "closed", users: 2, durationSeconds: 60 } })
        const p = yield* spawnGrid(["engine", file, "--results", join(yield* Dir, "orphan.jtl"), "--workers", "2"])
        const pid = p.child.pid!
        yield* waitUntil("two workers sending load", Effect.map(served("/orphan"), (n) => n > 100 && workersOf(pid).length === 2), "90 seconds")
        const workers = workersOf(pid)
        p.child.kill("SIGKILL")
        yield* waitUntil("the orphaned workers gone", Effect.sync(() => workers.every((w) => !alive(w))), "30 seconds")
      })))

    it.effect("an unreachable target fails before any load, in the engine's own words", () =>
      Effect.scoped(Effect.gen(function*() {
        const file = join(yield* Dir, "down.json")
        writeFileSync(file, JSON.stringify({ target: "http://127.0.0.1:9", requests: [{ name: "x", path: "/" }], load: { model: "closed", users: 2, durationSeconds: 5 } }))
        const p = yield* spawnGrid(["engine", file, "--results", join(yield* Dir, "down.jtl"), "--workers", "2"])
        expect(yield* p.exited).toBe(1)
        expect(p.stderr()).toMatch(/^grid engine: cannot connect to http:\/\/127\.0\.0\.1:9: ECONNREFUSED/m)
      })))
  })
})
