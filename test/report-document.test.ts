// The one report document and the one table, against the real commands: `grid run --out`,
// `grid report --json`, `grid launch --out` (a real daemon over a real nats-server) and
// `grid results --json` all decode with src/report/Document.ts's Schema, share the top level
// (`total` and `labels` alike, no `*` row among the labels), and print the same table header and
// TOTAL row; docs/report.schema.json is what the Schema generates.
import { Effect, Exit, Result, Scope } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
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
