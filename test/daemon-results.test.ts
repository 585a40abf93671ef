// Results through the daemon: a tool's JTL is followed while it runs, published as per-second
// windows on GRID_RESULTS, and summarised in the terminal event; a NATS restart in the middle
// of the run loses and duplicates no window.
import { Duration, Effect, Exit, Scope } from "effect"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { serveTarget } from "../src/engine/TargetServer.ts"
import { type InProcessDaemon, startDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient
let daemon: InProcessDaemon
const node = "res-1"
const writer = path.resolve(import.meta.dirname, "fixtures/jtl-writer.mjs")

beforeAll(async () => {
  nats = await startNatsServer()
  client = await gridClient(nats.url)
  daemon = await startDaemon(client, { natsUrl: nats.url, nodeId: node, resultsTimeout: Duration.seconds(4) })
})
afterAll(async () => {
  await daemon?.stop()
  await client?.close()
  await nats?.close()
})

const start = (testId: string, count: number, seconds: number) =>
  client.send(node, {
    kind: "start",
    testId,
    tool: "command",
    labels: { suite: "results" },
    params: { command: [process.execPath, writer, "out.jtl", String(count), String(seconds)], results: { path: "out.jtl", format: "jmeter" } }
  })
const terminalOf = (testId: string) =>
  waitUntil(`terminal event of ${testId}`, () => client.eventsOf(testId).find((e) => ["finished", "failed", "stopped"].includes(e.kind)), 60_000)

const checkWindows = async (testId: string, count: number) => {
  const windows = await client.results(testId)
  const seqs = windows.map((w) => w.seq)
  expect(seqs).toEqual(seqs.map((_, i) => i)) // in order, no gap, no duplicate
  expect(windows.filter((w) => w.final)).toHaveLength(1)
  expect(windows.at(-1)!.final).toBe(true)
  const star = windows.flatMap((w) => w.labels.filter((l) => l.label === "*"))
  expect(star.reduce((n, l) => n + l.count, 0)).toBe(count)
  expect(star.reduce((n, l) => n + l.errors, 0)).toBe(count / 10)
  const perLabel = windows.flatMap((w) => w.labels.filter((l) => l.label === "home"))
  expect(perLabel.reduce((n, l) => n + l.count, 0)).toBe(count / 2)
  return windows
}

describe("daemon results", () => {
  it("publishes per-second windows and a summary whose totals match the tool's samples", async () => {
    await start("res-a", 200, 2)
    const done = await terminalOf("res-a")
    expect(done.kind).toBe("finished")
    expect(done.summary).toMatchObject({ count: 200, errors: 20, bytesIn: 200_000, unackedWindows: 0, badLines: 0 })
    const windows = await checkWindows("res-a", 200)
    expect(windows.length).toBeGreaterThanOrEqual(2)
    expect(windows[0]!.testId).toBe("res-a")
    expect(windows[0]!.nodeId).toBe(node)
    expect(windows.every((w) => w.testLabels?.suite === "results")).toBe(true)
  })

  it("loses and duplicates no window across a NATS restart mid-run", async () => {
    await start("res-b", 300, 5)
    await client.waitEvent("res-b", "started")
    await new Promise((r) => setTimeout(r, 1500))
    await nats.kill()
    await new Promise((r) => setTimeout(r, 2500))
    await nats.start()
    const done = await terminalOf("res-b")
    expect(done.kind).toBe("finished")
    expect(done.summary).toMatchObject({ count: 300, errors: 30, unackedWindows: 0 })
    await checkWindows("res-b", 300)
  })

  it("fails the test with results_missing when the result file never appears", async () => {
    await client.send(node, {
      kind: "start",
      testId: "res-missing",
      tool: "command",
      params: { command: ["sleep", "120"], results: { path: "never.jtl", format: "jmeter" } }
    })
    const done = await terminalOf("res-missing")
    expect(done.kind).toBe("failed")
    expect(done.error).toMatchObject({ code: "results_missing" })
    expect((done.error as { message: string }).message).toContain("never.jtl")
  })
})

describe("builtin tool through the daemon", () => {
  it("runs the engine's scenario from files; windows and summary equal the target's count", async () => {
    const scope = Effect.runSync(Scope.make())
    try {
      const target = await Effect.runPromise(
        Scope.provide(scope)(serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} }))
      )
      const scenario = { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 50, durationSeconds: 2 } }
      await client.send(node, {
        kind: "start",
        testId: "builtin-1",
        tool: "builtin",
        entry: "scenario.json",
        files: [{ path: "scenario.json", content: JSON.stringify(scenario) }],
        params: { target: target.url }
      })
      const done = await terminalOf("builtin-1")
      expect(done.kind).toBe("finished")
      const served = target.stats.total
      expect(served).toBeGreaterThanOrEqual(90)
      expect(done.summary).toMatchObject({ count: served, errors: 0 })
      const windows = await client.results("builtin-1")
      const star = windows.flatMap((w) => w.labels.filter((l) => l.label === "*"))
      expect(star.reduce((n, l) => n + l.count, 0)).toBe(served)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("fails with invalid_scenario and the engine's own message for a bad scenario", async () => {
    await client.send(node, {
      kind: "start",
      testId: "builtin-bad",
      tool: "builtin",
      entry: "scenario.json",
      files: [{ path: "scenario.json", content: JSON.stringify({ requests: [], load: { model: "open" } }) }]
    })
    const done = await terminalOf("builtin-bad")
    expect(done.error).toMatchObject({ code: "invalid_scenario" })
  })
})
