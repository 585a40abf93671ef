// The one report document and the one table, against the real commands: `grid run --out`,
// `grid report --json`, `grid launch --out` (a real daemon over a real nats-server) and
// `grid results --json` all decode with src/report/Document.ts's Schema, share the top level
// (`total` and `labels` alike, no `*` row among the labels), and print the same table header and
// TOTAL row; docs/report.schema.json is what the Schema generates. And grid launch's live view
// keeps up with the node's windows (issue 12, item 4): each second shown soon after it ended,
// none after the node said it finished, and a line when a node's windows are late.
import { Effect, Exit, type Layer, Result, Scope, Stream } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Controller } from "../src/controller/Controller.ts"
import { type LaunchUpdate, startLaunch } from "../src/controller/Launch.ts"
import { decodePlan } from "../src/controller/Plan.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { decodeReportDocument, jsonSchemaText, type ReportDocument } from "../src/report/Document.ts"
import { gridMain, type InProcessDaemon, nodeBin, startDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient
let daemon: InProcessDaemon
let target: RunningTarget
const scope = Effect.runSync(Scope.make())
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-doc-"))

beforeAll(async () => {
  nats = await startNatsServer()
  client = await gridClient(nats.url)
  target = await Effect.runPromise(Scope.provide(scope)(serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} })))
  daemon = await startDaemon(client, { natsUrl: nats.url, nodeId: "doc-1" })
}, 30_000)
afterAll(async () => {
  await daemon?.stop()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await client?.close()
  await nats?.close()
  fs.rmSync(dir, { recursive: true, force: true })
}, 30_000)

interface Line {
  readonly at: number
  readonly text: string
}
interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** Every output line (stdout and stderr) with the time it arrived. */
  readonly lines: ReadonlyArray<Line>
}

const grid = (args: ReadonlyArray<string>): Promise<Ran> =>
  new Promise((resolve) => {
    const child = spawn(nodeBin, [gridMain, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    const lines: Array<Line> = []
    let partial = ""
    const take = (d: Buffer) => {
      const now = Date.now()
      const parts = (partial + d.toString()).split("\n")
      partial = parts.pop()!
      for (const text of parts) lines.push({ at: now, text })
    }
    child.stdout.on("data", (d: Buffer) => {
      stdout += d
      take(d)
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d
      take(d)
    })
    child.on("exit", (code) => resolve({ code, stdout, stderr, lines }))
  })

const decoded = (json: string): ReportDocument => {
  const r = decodeReportDocument(json)
  if (Result.isFailure(r)) throw new Error(`not a report document: ${String(r.failure)}\n${json.slice(0, 2000)}`)
  return r.success
}

/** The table's header and TOTAL row's cell count, as printed. */
const tableOf = (text: string) => {
  const header = text.split("\n").find((l) => l.startsWith("label "))
  const total = text.split("\n").find((l) => l.startsWith("TOTAL "))
  return { header: header?.trim().split(/\s+/), totalCells: total?.trim().split(/\s+/).length }
}

const scenario = { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }, { name: "about", path: "/about" }] }

describe("one report document", () => {
  it("docs/report.schema.json is what the Schema generates", () => {
    const committed = fs.readFileSync(path.join(import.meta.dirname, "../docs/report.schema.json"), "utf8")
    expect(committed).toBe(jsonSchemaText())
  })

  it("grid run --out, grid report --json, grid launch --out and grid results --json: one Schema, one table", async () => {
    const runFile = path.join(dir, "run.json")
    fs.writeFileSync(runFile, JSON.stringify({ ...scenario, target: target.url, load: { model: "open", rate: 20, durationSeconds: 2 } }))
    const run = await grid(["run", runFile, "--out", path.join(dir, "run-out.json")])
    expect(run.code, run.stderr).toBe(0)
    const runDoc = decoded(fs.readFileSync(path.join(dir, "run-out.json"), "utf8"))

    const fixture = path.join(import.meta.dirname, "fixtures/ingest/jmeter5-quoted.jtl")
    const reportJson = await grid(["report", fixture, "--max-bad-lines", "50%", "--json"])
    expect(reportJson.code, reportJson.stderr).toBe(0)
    const reportDoc = decoded(reportJson.stdout)
    const reportText = await grid(["report", fixture, "--max-bad-lines", "50%"])

    const planFile = path.join(dir, "plan.json")
    fs.writeFileSync(planFile, JSON.stringify({ tool: "builtin", params: { target: target.url }, scenario: { ...scenario, load: { model: "open", rate: 20, durationSeconds: 2 } } }))
    const launch = await grid(["launch", planFile, "--nats-url", nats.url, "--test-id", "doc-launch", "--out", path.join(dir, "launch-out.json")])
    expect(launch.code, launch.stderr).toBe(0)
    const launchDoc = decoded(fs.readFileSync(path.join(dir, "launch-out.json"), "utf8"))
    const resultsJson = await grid(["results", "doc-launch", "--nats-url", nats.url, "--json"])
    expect(resultsJson.code, resultsJson.stderr).toBe(0)
    const resultsDoc = decoded(resultsJson.stdout)
    const resultsText = await grid(["results", "doc-launch", "--nats-url", nats.url])

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
  }, 90_000)
})

describe("grid launch's live view", () => {
  it("shows each second within about a second of its end, and none after the node said it finished", async () => {
    const planFile = path.join(dir, "lag-plan.json")
    fs.writeFileSync(planFile, JSON.stringify({ tool: "builtin", params: { target: target.url }, scenario: { ...scenario, load: { model: "open", rate: 20, durationSeconds: 5 } } }))
    // The node's windows as published (a plain subscription sees JetStream's publishes).
    const ends = new Map<number, number>()
    const sub = client.nc.subscribe("grid.results.doc-lag.>", { callback: (_e, m) => void ends.set(m.json<{ seq: number }>().seq, m.json<{ end: number }>().end) })
    const launch = await grid(["launch", planFile, "--nats-url", nats.url, "--test-id", "doc-lag"])
    sub.unsubscribe()
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
  }, 60_000)

  it("says when a node's windows are late, and when they come again", async () => {
    const plan = await Effect.runPromise(decodePlan({
      name: "late",
      tool: "builtin",
      params: { target: target.url },
      scenario: { ...scenario, load: { model: "open", rate: 10, durationSeconds: 6 } }
    }, "inline plan"))
    const updates: Array<LaunchUpdate> = []
    // The node's real windows, held back 4 s from seq 1 on, as a congested link would.
    const report = await Effect.runPromise(
      Effect.gen(function*() {
        const c = yield* Controller
        const slow = { ...c, results: (id: string) => c.results(id).pipe(Stream.tap((w) => (w.seq === 1 ? Effect.sleep("4 seconds") : Effect.void))) }
        const launch = yield* startLaunch(slow, plan, { nodes: ["doc-1"] }, { testId: "doc-late", lateAfterMs: 2500, onUpdate: (u) => void updates.push(u) })
        return yield* launch.await
      }).pipe(Effect.scoped, Effect.provide(Controller.layerNats({ url: nats.url }) as Layer.Layer<Controller>))
    )
    expect(report.outcome).toBe("ok")
    const phases = updates.flatMap((u) => (u.type === "phase" ? [u.message] : []))
    expect(phases).toContainEqual(expect.stringMatching(/^node doc-1: no window for \d+\.\d s \(its results are late/))
    expect(phases).toContain("node doc-1: its windows are arriving again")
    // Held back, the seconds still all count.
    expect(report.summary.total.count).toBe(report.points.reduce((n, p) => n + p.count, 0))
  }, 60_000)
})
