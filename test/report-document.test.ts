// The one report document and the one table, against the real commands: `grid run --out`,
// `grid report --json`, `grid launch --out` (a real daemon over a real nats-server) and
// `grid results --json` all decode with src/report/Document.ts's Schema, share the top level
// (`total` and `labels` alike, no `*` row among the labels), and print the same table header and
// TOTAL row; docs/report.schema.json is what the Schema generates. And grid launch's live view
// keeps up with the node's windows (issue 12, item 4): each second shown soon after it ended,
// none after the node said it finished, and a line when a node's windows are late.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer, Result, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { Controller } from "../src/controller/Controller.ts"
import { type LaunchUpdate, startLaunch } from "../src/controller/Launch.ts"
import { decodePlan } from "../src/controller/Plan.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { decodeReportDocument, jsonSchemaText } from "../src/report/Document.ts"
import { decodeResultWindow } from "../src/protocol/results.ts"
import { TestDaemon } from "./support/daemon.ts"
import { runGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { WireClient } from "./support/WireClient.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/report-document/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} }))
}
/** Where plans and documents are written; removed with the suite. */
class Dir extends Context.Service<Dir, string>()("test/report-document/Dir") {
  static readonly layer = Layer.effect(Dir, Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "grid-doc-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ))
}

const env = TestDaemon.layer({ nodeId: "doc-1" }).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(Layer.mergeAll(TestNats.layer(), Target.layer, Dir.layer))
)

const decoded = (json: string) => {
  const r = decodeReportDocument(json)
  return Result.isFailure(r) ? Effect.die(new Error(`not a report document: ${String(r.failure)}\n${json.slice(0, 2000)}`)) : Effect.succeed(r.success)
}

/** The table's header and TOTAL row's cell count, as printed. */
const tableOf = (text: string) => {
  const header = text.split("\n").find((l) => l.startsWith("label "))
  const total = text.split("\n").find((l) => l.startsWith("TOTAL "))
  return { header: header?.trim().split(/\s+/), totalCells: total?.trim().split(/\s+/).length }
}

const scenario = { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }, { name: "about", path: "/about" }] }

layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
  describe("one report document", () => {
    it.effect("docs/report.schema.json is what the Schema generates", () =>
      Effect.sync(() => {
        const committed = fs.readFileSync(path.join(import.meta.dirname, "../docs/report.schema.json"), "utf8")
        expect(committed).toBe(jsonSchemaText())
      }))

    it.effect("grid run --out, grid report --json, grid launch --out and grid results --json: one Schema, one table", () =>
      Effect.gen(function*() {
        const dir = yield* Dir
        const target = yield* Target
        const nats = yield* TestNats
        const runFile = path.join(dir, "run.json")
        fs.writeFileSync(runFile, JSON.stringify({ ...scenario, target: target.url, load: { model: "open", rate: 20, durationSeconds: 2 } }))
        const run = yield* runGrid(["run", runFile, "--out", path.join(dir, "run-out.json")])
        expect(run.code, run.stderr).toBe(0)
        const runDoc = yield* decoded(fs.readFileSync(path.join(dir, "run-out.json"), "utf8"))

        const fixture = path.join(import.meta.dirname, "fixtures/ingest/jmeter5-quoted.jtl")
        const reportJson = yield* runGrid(["report", fixture, "--max-bad-lines", "50%", "--json"])
        expect(reportJson.code, reportJson.stderr).toBe(0)
        const reportDoc = yield* decoded(reportJson.stdout)
        const reportText = yield* runGrid(["report", fixture, "--max-bad-lines", "50%"])

        const planFile = path.join(dir, "plan.json")
        fs.writeFileSync(planFile, JSON.stringify({ tool: "builtin", params: { target: target.url }, scenario: { ...scenario, load: { model: "open", rate: 20, durationSeconds: 2 } } }))
        const launch = yield* runGrid(["launch", planFile, "--nats-url", nats.url, "--test-id", "doc-launch", "--out", path.join(dir, "launch-out.json")])
        expect(launch.code, launch.stderr).toBe(0)
        const launchDoc = yield* decoded(fs.readFileSync(path.join(dir, "launch-out.json"), "utf8"))
        const resultsJson = yield* runGrid(["results", "doc-launch", "--nats-url", nats.url, "--json"])
        expect(resultsJson.code, resultsJson.stderr).toBe(0)
        const resultsDoc = yield* decoded(resultsJson.stdout)
        const resultsText = yield* runGrid(["results", "doc-launch", "--nats-url", nats.url])

        const docs = [runDoc, reportDoc, launchDoc, resultsDoc]
        expect(docs.map((d) => d.command)).toEqual(["run", "report", "launch", "results"])
        for (const d of docs) {
          expect(d.total.label).toBe("*")
          expect(d.total.count).toBeGreaterThan(0)
          expect(d.labels.every((l) => l.label !== "*")).toBe(true)
          expect(d.labels.reduce((n, l) => n + l.count, 0)).toBe(d.total.count)
          expect(d.windows.length).toBeGreaterThan(0)
        }
        expect(launchDoc.labels.map((l) => l.label)).toEqual(["home", "about"])
        expect(resultsDoc.total.count).toBe(launchDoc.total.count)
        expect(launchDoc.nodes?.map((n) => [n.nodeId, n.status])).toEqual([["doc-1", "finished"]])
        expect(reportDoc.badLines?.count).toBe(2)

        const tables = [run.stdout, reportText.stdout, launch.stdout, resultsText.stdout].map(tableOf)
        for (const t of tables) {
          expect(t.header).toEqual(["label", "count", "rps", "errors", "min", "ms", "p50", "p90", "p95", "p99", "max"])
          expect(t.totalCells).toBe(11)
        }
      }), 90_000)
  })

  describe("grid launch's live view", () => {
    it.effect("shows each second within about a second of its end, and none after the node said it finished", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const target = yield* Target
        const planFile = path.join(yield* Dir, "lag-plan.json")
        fs.writeFileSync(planFile, JSON.stringify({ tool: "builtin", params: { target: target.url }, scenario: { ...scenario, load: { model: "open", rate: 20, durationSeconds: 5 } } }))
        // The node's windows as published (a plain subscription sees JetStream's publishes).
        const ends = new Map<number, number>()
        const launch = yield* Effect.scoped(Effect.gen(function*() {
          const sub = yield* Effect.acquireRelease(Effect.sync(() => client.nc.subscribe("grid.results.doc-lag.>")), (s) => Effect.sync(() => s.unsubscribe()))
          yield* Stream.fromAsyncIterable(sub, (e) => e).pipe(
            Stream.runForEach((m) => Effect.map(decodeResultWindow(m.string()).pipe(Effect.orDie), (w) => void ends.set(w.seq, w.end))),
            Effect.ignore,
            Effect.forkScoped
          )
          return yield* runGrid(["launch", planFile, "--nats-url", nats.url, "--test-id", "doc-lag"])
        }))
        expect(launch.code, launch.stderr).toBe(0)
        const texts = launch.lines.map((l) => l.text)
        const finishedAt = texts.findIndex((t) => t.startsWith("node doc-1: finished"))
        const windowLines = launch.lines.filter((l) => /^\d+:\d\d  nodes /.test(l.text))
        expect(finishedAt).toBeGreaterThan(0)
        expect(windowLines.length).toBeGreaterThanOrEqual(5)
        // Every second of the test is printed before the node's end, counting it as running.
        expect(texts.slice(finishedAt).filter((t) => /^\d+:\d\d  nodes /.test(t))).toEqual([])
        expect(windowLines.every((l) => l.text.includes("nodes 1/1 running"))).toBe(true)
        // How long after its window ended each second was shown (the last, partial one excepted):
        // about 2.3 s before (windows closed 2 s after their end), under a second now.
        const lags = windowLines.slice(0, -1).map((l) => {
          const [m, s] = /^(\d+):(\d\d)/.exec(l.text)!.slice(1).map(Number)
          return l.at - ends.get(m! * 60 + s! - 1)!
        }).sort((a, b) => a - b)
        expect(lags[Math.floor(lags.length / 2)]!).toBeLessThan(1500)
      }), 60_000)

    it.effect("says when a node's windows are late, and when they come again", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const target = yield* Target
        const plan = yield* decodePlan({
          name: "late",
          tool: "builtin",
          params: { target: target.url },
          scenario: { ...scenario, load: { model: "open", rate: 10, durationSeconds: 6 } }
        }, "inline plan")
        const updates: Array<LaunchUpdate> = []
        // The node's real windows, held back 4 s from seq 1 on, as a congested link would.
        const report = yield* Effect.gen(function*() {
          const c = yield* Controller
          const slow = { ...c, results: (id: string) => c.results(id).pipe(Stream.tap((w) => (w.seq === 1 ? Effect.sleep("4 seconds") : Effect.void))) }
          const launch = yield* startLaunch(slow, plan, { nodes: ["doc-1"] }, { testId: "doc-late", lateAfterMs: 2500, onUpdate: (u) => void updates.push(u) })
          return yield* launch.await
        }).pipe(Effect.scoped, Effect.provide(Controller.layerNats({ url: nats.url }) as Layer.Layer<Controller>))
        expect(report.outcome, JSON.stringify(report.problems)).toBe("ok")
        const phases = updates.flatMap((u) => (u.type === "phase" ? [u.message] : []))
        expect(phases).toContainEqual(expect.stringMatching(/^node doc-1: no window for \d+\.\d s \(its results are late/))
        expect(phases).toContain("node doc-1: its windows are arriving again")
        // Held back, the seconds still all count.
        expect(report.summary.total.count).toBe(report.points.reduce((n, p) => n + p.count, 0))
      }), 60_000)
  })
})
