// Results through the daemon: a tool's JTL is followed while it runs, published as per-second
// windows on GRID_RESULTS, and summarised in the terminal event; a NATS restart in the middle
// of the run loses and duplicates no window.
import { layer } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { serveTarget } from "../src/engine/TargetServer.ts"
import { TestDaemon } from "./support/daemon.ts"
import { TestNats } from "./support/natsServer.ts"
import { type TerminalEvent, WireClient } from "./support/WireClient.ts"

const node = "res-1"
const writer = path.resolve(import.meta.dirname, "fixtures/jtl-writer.mjs")
const env = TestDaemon.layer({ nodeId: node, resultsTimeout: Duration.seconds(4) }).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(TestNats.layer())
)

const start = (testId: string, count: number, seconds: number) =>
  Effect.flatMap(WireClient, (client) =>
    client.send(node, {
      kind: "start",
      testId,
      tool: "command",
      labels: { suite: "results" },
      params: { command: [process.execPath, writer, "out.jtl", String(count), String(seconds)], results: { path: "out.jtl", format: "jmeter" } }
    }))
const terminalOf = (testId: string) => Effect.flatMap(WireClient, (client) => client.terminalOf(testId, "60 seconds"))
const errorOf = (e: TerminalEvent) => (e.kind === "failed" ? e.error : undefined)

const checkWindows = (testId: string, count: number) =>
  Effect.gen(function*() {
    const windows = yield* (yield* WireClient).results(testId)
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
  })

layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
  describe("daemon results", () => {
    it.effect("publishes per-second windows and a summary whose totals match the tool's samples", () =>
      Effect.gen(function*() {
        yield* start("res-a", 200, 2)
        const done = yield* terminalOf("res-a")
        expect(done.kind).toBe("finished")
        expect(done.summary).toMatchObject({ count: 200, errors: 20, bytesIn: 200_000, unackedWindows: 0, badLines: 0 })
        const windows = yield* checkWindows("res-a", 200)
        expect(windows.length).toBeGreaterThanOrEqual(2)
        expect(windows[0]!.testId).toBe("res-a")
        expect(windows[0]!.nodeId).toBe(node)
        expect(windows.every((w) => w.testLabels?.suite === "results")).toBe(true)
      }))

    it.effect("loses and duplicates no window across a NATS restart mid-run", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        yield* start("res-b", 300, 5)
        yield* client.waitEvent("res-b", "started")
        yield* Effect.sleep("1500 millis")
        yield* Effect.promise(() => nats.kill())
        yield* Effect.sleep("2500 millis")
        yield* Effect.promise(() => nats.start())
        const done = yield* terminalOf("res-b")
        expect(done.kind).toBe("finished")
        expect(done.summary).toMatchObject({ count: 300, errors: 30, unackedWindows: 0 })
        yield* checkWindows("res-b", 300)
        // The client's follower came back too: every event of the test, once, in order.
        expect((yield* client.eventsOf("res-b")).map((e) => e.kind)).toEqual(["accepted", "started", "finished"])
      }))

    it.effect("fails the test with results_missing when the result file never appears", () =>
      Effect.gen(function*() {
        yield* (yield* WireClient).send(node, {
          kind: "start",
          testId: "res-missing",
          tool: "command",
          params: { command: ["sleep", "120"], results: { path: "never.jtl", format: "jmeter" } }
        })
        const done = yield* terminalOf("res-missing")
        expect(done.kind).toBe("failed")
        expect(errorOf(done)).toMatchObject({ code: "results_missing" })
        expect(errorOf(done)!.message).toContain("never.jtl")
      }))
  })

  describe("builtin tool through the daemon", () => {
    it.effect("runs the engine's scenario from files; windows and summary equal the target's count", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const target = yield* serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} })
        const scenario = { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 50, durationSeconds: 2 } }
        yield* client.send(node, {
          kind: "start",
          testId: "builtin-1",
          tool: "builtin",
          entry: "scenario.json",
          files: [{ path: "scenario.json", content: JSON.stringify(scenario) }],
          params: { target: target.url }
        })
        const done = yield* terminalOf("builtin-1")
        expect(done.kind).toBe("finished")
        const served = target.stats.total
        expect(served).toBeGreaterThanOrEqual(90)
        expect(done.summary).toMatchObject({ count: served, errors: 0 })
        const windows = yield* client.results("builtin-1")
        const star = windows.flatMap((w) => w.labels.filter((l) => l.label === "*"))
        expect(star.reduce((n, l) => n + l.count, 0)).toBe(served)
      }))

    it.effect("fails with invalid_scenario and the engine's own message for a bad scenario", () =>
      Effect.gen(function*() {
        yield* (yield* WireClient).send(node, {
          kind: "start",
          testId: "builtin-bad",
          tool: "builtin",
          entry: "scenario.json",
          files: [{ path: "scenario.json", content: JSON.stringify({ requests: [], load: { model: "open" } }) }]
        })
        const done = yield* terminalOf("builtin-bad")
        expect(errorOf(done)).toMatchObject({ code: "invalid_scenario" })
      }))
  })
})
