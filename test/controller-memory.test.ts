// The launch flow on a memory NodeBus (src/controller/MemoryBus.ts) with simulated nodes: the
// same flow the real-NATS tests drive (test/controller-grid.test.ts), here with every node's
// answer scripted: two nodes through a barrier to a merged report, a refusal, node loss (a
// deleted heartbeat, heartbeats that no longer list the test) failing the launch and stopping
// the others, tolerated loss, and messages that do not decode being skipped.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Tracer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Controller } from "../src/controller/Controller.ts"
import { type LaunchOptions, startLaunch } from "../src/controller/Launch.ts"
import { makeMemoryBus, type MemoryBus } from "../src/controller/MemoryBus.ts"
import { decodePlan } from "../src/controller/Plan.ts"
import type { Selection } from "../src/controller/Selection.ts"
import { simulatedNode, type SimulatedNodeOptions } from "./support/simulatedNode.ts"

const plan = decodePlan({
  name: "mem",
  tool: "builtin",
  params: { target: "http://127.0.0.1:9" },
  scenario: { target: "http://127.0.0.1:9", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 20, durationSeconds: 3 } }
}, "inline plan")

/** Launches on simulated nodes and awaits the report; also returns the bus to inspect. */
const launchOn = (nodes: Record<string, SimulatedNodeOptions>, options: LaunchOptions = {}, selection: Selection = { nodes: Object.keys(nodes) }, bucketTtlMs?: number) =>
  Effect.gen(function*() {
    const bus = yield* makeMemoryBus(bucketTtlMs !== undefined ? { bucketTtlMs } : {})
    for (const [id, o] of Object.entries(nodes)) yield* simulatedNode(bus, id, o)
    const launch = yield* startLaunch(bus, yield* plan, selection, { testId: "mem-1", finalWait: "200 millis", stopTimeout: "2 seconds", ...options })
    const report = yield* launch.await
    return { report, bus }
  }).pipe(Effect.scoped)

const commandsTo = (bus: MemoryBus, nodeId: string) =>
  Effect.map(bus.history("mem-1"), (h) => h.events.filter((e) => e.nodeId === nodeId).map((e) => e.kind))

describe("launch on a memory bus", () => {
  it.live("two nodes accept, get ready, go, send their windows and finish: the merged report", () =>
    Effect.gen(function*() {
      const { report, bus } = yield* launchOn({ a: { windows: 3, perWindow: 10 }, b: { windows: 3, perWindow: 5 } })
      expect(report.outcome).toBe("ok")
      expect(report.nodes.map((n) => [n.nodeId, n.status, n.windows, n.count])).toEqual([["a", "finished", 3, 30], ["b", "finished", 3, 15]])
      expect(report.summary.total.count).toBe(45)
      expect(report.points.map((p) => p.count)).toEqual([15, 15, 15])
      expect(yield* commandsTo(bus, "a")).toEqual(["accepted", "ready", "started", "finished"])
    }))

  it.live("a node that finished while its last windows never arrived fails the launch: the merged totals are incomplete", () =>
    Effect.gen(function*() {
      const { report } = yield* launchOn({ a: { windows: 4, withholdFrom: 2 }, b: { windows: 4 } })
      expect(report.outcome).toBe("failed")
      expect(report.problems).toEqual(["node a finished but its final result window never arrived: the merged results are incomplete"])
      expect(report.nodes.map((n) => [n.nodeId, n.status, n.windows])).toEqual([["a", "finished", 2], ["b", "finished", 4]])
    }))

  it.live("a node whose tool has no results (summary null, no window) finishes the launch ok", () =>
    Effect.gen(function*() {
      const { report } = yield* launchOn({ a: { windows: 0 }, b: { windows: 0 } })
      expect(report.problems).toEqual([])
      expect(report.outcome).toBe("ok")
      expect(report.nodes.map((n) => [n.nodeId, n.status, n.windows])).toEqual([["a", "finished", 0], ["b", "finished", 0]])
    }))

  it.live("a refused start fails the launch and stops the node that accepted", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.gen(function*() {
          const bus = yield* makeMemoryBus()
          yield* simulatedNode(bus, "a")
          yield* simulatedNode(bus, "b", { reject: "unsupported_tool" })
          yield* startLaunch(bus, yield* plan, { nodes: ["a", "b"] }, { testId: "mem-1", finalWait: "200 millis" })
        }).pipe(Effect.scoped)
      )
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toMatch(/the start was refused: .*b unsupported_tool: simulated refusal/)
      expect(JSON.stringify(exit)).toContain('"_tag":"GridLaunchError"')
    }))

  it("no two error classes share a tag", () => {
    const tags = new Map<string, Array<string>>()
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, e.name)
        if (e.isDirectory()) walk(file)
        else if (file.endsWith(".ts")) {
          for (const m of fs.readFileSync(file, "utf8").matchAll(/TaggedError<\w+>\(\)\(\s*"([^"]+)"/g)) tags.set(m[1]!, [...(tags.get(m[1]!) ?? []), file])
        }
      }
    }
    walk("src")
    expect(tags.size).toBeGreaterThan(5)
    expect([...tags].filter(([, files]) => files.length > 1)).toEqual([])
  })

  it.live("a node whose heartbeat is deleted is lost: the launch fails and the other node is stopped", () =>
    Effect.gen(function*() {
      const { report, bus } = yield* launchOn({ a: { windows: 1000 }, b: { windows: 1000, loseAfter: 2, loss: "deleted" } })
      expect(report.outcome).toBe("failed")
      expect(report.problems.join()).toMatch(/node b lost: its heartbeat was deleted/)
      expect(report.nodes.map((n) => [n.nodeId, n.status])).toEqual([["a", "stopped"], ["b", "lost"]])
      expect(yield* commandsTo(bus, "a")).toEqual(["accepted", "ready", "started", "stopped"])
    }))

  it.live("a node whose heartbeats no longer list the test, twice, is lost", () =>
    Effect.gen(function*() {
      const { report } = yield* launchOn({ a: { windows: 1000 }, b: { windows: 1000, loseAfter: 2, loss: "unlisted" } })
      expect(report.outcome).toBe("failed")
      expect(report.problems.join()).toMatch(/node b lost: its heartbeat no longer lists the test/)
    }))

  it.live("a node that goes silent is lost once its heartbeat would have expired", () =>
    Effect.gen(function*() {
      const { report } = yield* launchOn({ a: { windows: 10_000 }, b: { windows: 1000, loseAfter: 1, loss: "silent" } }, {}, undefined, 200)
      expect(report.outcome).toBe("failed")
      expect(report.problems.join()).toMatch(/node b lost: no heartbeat for .* \(bucket TTL 0.2 s\)/)
      expect(report.nodes.map((n) => [n.nodeId, n.status])).toEqual([["a", "stopped"], ["b", "lost"]])
    }))

  it.live("with tolerated node loss the launch goes on and the report says so", () =>
    Effect.gen(function*() {
      const { report } = yield* launchOn({ a: { windows: 4 }, b: { windows: 1000, loseAfter: 1, loss: "deleted" } }, { tolerateNodeLoss: true })
      expect(report.outcome).toBe("ok")
      expect(report.tolerated).toEqual(["b"])
      expect(report.nodes.map((n) => [n.nodeId, n.status])).toEqual([["a", "finished"], ["b", "lost"]])
    }))

  it.live("messages that do not decode are skipped and unknown kinds ignored: the launch goes on", () =>
    Effect.gen(function*() {
      const noise = [
        "not json",
        { kind: "finished", testId: "mem-1", nodeId: "b", at: "2026-01-01T00:00:00Z" },
        { kind: "failed", testId: "mem-1", nodeId: "b", at: "2026-01-01T00:00:00Z", error: "no object" },
        { kind: "paused", testId: "mem-1", nodeId: "b", at: "2026-01-01T00:00:00Z" }
      ]
      const { report } = yield* launchOn({ a: {}, b: { noise } })
      expect(report.outcome).toBe("ok")
      expect(report.nodes.map((n) => [n.nodeId, n.status, n.count])).toEqual([["a", "finished", 30], ["b", "finished", 30]])
    }))
})

describe("the Controller service over a memory bus", () => {
  it.live("launch, report and stop are named spans; stop stops the running node and report rebuilds from history", () =>
    Effect.gen(function*() {
      const spans: Array<string> = []
      const tracer = Tracer.make({
        span(options) {
          spans.push(options.name)
          return new Tracer.NativeSpan(options)
        }
      })
      const result = yield* Effect.gen(function*() {
        const bus = yield* makeMemoryBus()
        yield* simulatedNode(bus, "a", { windows: 2 })
        yield* simulatedNode(bus, "b", { windows: 10_000 })
        return yield* Effect.gen(function*() {
          const controller = yield* Controller
          // a finishes; b runs until stopped.
          const launch = yield* controller.launch(yield* plan, { nodes: ["a", "b"] }, { testId: "mem-s", finalWait: "100 millis" })
          yield* Effect.repeat(bus.history("mem-s"), { until: (h) => h.events.some((e) => e.nodeId === "a" && e.kind === "finished") })
          const stopped = yield* controller.stop("mem-s", { timeout: "5 seconds" })
          yield* launch.await
          const report = yield* controller.report("mem-s")
          return { stopped, report }
        }).pipe(Effect.provide(Controller.layerPrimitives(bus)))
      }).pipe(Effect.scoped, Effect.provideService(Tracer.Tracer, tracer))
      expect(result.stopped).toEqual([{ nodeId: "b", result: "stopped" }])
      expect(result.report.nodes.map((n) => [n.nodeId, n.status])).toEqual([["a", "finished"], ["b", "stopped"]])
      expect(spans).toEqual(expect.arrayContaining(["controller.launch", "controller.stop", "controller.history", "controller.report"]))
    }))
})
