// The controller against real daemons on one real nats-server, running the builtin engine
// against a local target: the merged count equals the target's count and the merged p99 the
// p99 of the union of every node's samples; the start goes through a barrier; bad selections
// send nothing; Ctrl-C on `grid launch` stops every node and still prints the summary; a
// SIGKILLed daemon (its heartbeat expires) fails the launch and the others are stopped.
import { layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { Controller } from "../src/controller/Controller.ts"
import type { LaunchOptions } from "../src/controller/Launch.ts"
import { decodePlan, type Plan } from "../src/controller/Plan.ts"
import { reportText } from "../src/controller/Report.ts"
import type { Selection } from "../src/controller/Selection.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { decodeHistogram, newHistogram } from "../src/protocol/results.ts"
import { alive, TestDaemon } from "./support/daemon.ts"
import { spawnDaemonScoped } from "./support/daemonProcess.ts"
import { spawnGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const ids = ["ctl-1", "ctl-2", "ctl-3"]

class Target extends Context.Service<Target, RunningTarget>()("test/controller-grid/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} }))
}

// Three in-process daemons of the suite, up (heartbeat read) before any test, stopped after all.
const daemons = Layer.effectDiscard(Effect.forEach(ids, (nodeId) => TestDaemon.make({ nodeId }), { concurrency: "unbounded" }))
const env = daemons.pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(Layer.mergeAll(TestNats.layer(), Target.layer))
)

const builtinPlan = (durationSeconds: number, rate: number) =>
  Effect.flatMap(Target, (target) =>
    decodePlan({
      name: "ctl",
      tool: "builtin",
      params: { target: target.url },
      scenario: { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate, durationSeconds } }
    }, "inline plan"))

type ControllerSettings = Parameters<typeof Controller.layerNats>[0]
const withController = <A, E>(effect: Effect.Effect<A, E, Controller | Scope.Scope>, settings?: ControllerSettings) =>
  Effect.flatMap(TestNats, (nats) =>
    effect.pipe(Effect.scoped, Effect.provide(Controller.layerNats(settings ?? { url: nats.url }) as Layer.Layer<Controller>)))

const launch = (plan: Plan, selection: Selection, options: LaunchOptions) =>
  Effect.flatMap(Controller, (c) => c.launch(plan, selection, options)).pipe(Effect.flatMap((l) => l.await))

const allIdle = Effect.flatMap(WireClient, (client) =>
  waitUntil("every node idle", Effect.map(Effect.forEach(ids, (id) => client.heartbeat(id)), (hbs) => hbs.every((h) => h?.state === "idle"))))

/** A temp dir of the scope, removed with it (after the processes of the scope, opened later, ended). */
const tempDir = (prefix: string) =>
  Effect.acquireRelease(Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))), (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))

/** The engine a SIGKILLed daemon left is an orphan now (the orphan sweep handles it on restart): end it here. */
const killOrphanEngine = (testId: string, nodeId: string, settings: ControllerSettings) =>
  Effect.gen(function*() {
    const { events } = yield* withController(Effect.flatMap(Controller, (c) => c.history(testId)), settings)
    const started = events.find((e) => e.nodeId === nodeId && e.kind === "started")
    const pid = started?.kind === "started" ? started.pid : undefined
    if (pid !== undefined && alive(-pid)) process.kill(-pid, "SIGKILL")
  })

layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
  describe("grid launch on three daemons", () => {
    it.effect("merges to the target's count and the union's p99, starting through a barrier", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const target = yield* Target
        const plan = yield* builtinPlan(3, 60)
        const before = target.stats.total
        const report = yield* withController(launch(plan, { nodes: ids }, { testId: "ctl-merge" }))
        expect(report.outcome).toBe("ok")
        expect(report.nodes.map((n) => [n.nodeId, n.status, n.rate])).toEqual([["ctl-1", "finished", 20], ["ctl-2", "finished", 20], ["ctl-3", "finished", 20]])
        const served = target.stats.total - before
        expect(served).toBeGreaterThan(100)
        expect(report.summary.total.count).toBe(served)
        expect(report.points.reduce((n, p) => n + p.count, 0)).toBe(served)

        // The union of every sample: each node's `*` histograms as stored, read independently.
        const seen = new Set<string>()
        const union = newHistogram()
        for (const w of yield* client.results("ctl-merge")) {
          if (seen.has(`${w.nodeId}.${w.seq}`)) continue
          seen.add(`${w.nodeId}.${w.seq}`)
          for (const l of w.labels) if (l.label === "*" && l.count > 0) union.add(decodeHistogram(l.hdr))
        }
        expect(union.totalCount).toBe(served)
        const p99 = union.getValueAtPercentile(99) / 1000
        expect(Math.abs(report.summary.total.latencyMs.p99 - p99)).toBeLessThanOrEqual(p99 * 0.001 + 0.001)

        // Barrier: every node was ready before any started.
        const kinds = (yield* client.eventsOf("ctl-merge")).map((e) => e.kind)
        expect(kinds.filter((k) => k === "ready")).toHaveLength(3)
        expect(kinds.lastIndexOf("ready")).toBeLessThan(kinds.indexOf("started"))
      }), 60_000)

    it.effect("refuses an unknown node, a tool no node offers and too few idle nodes, sending nothing", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const plan = yield* builtinPlan(1, 10)
        const k6 = { ...plan, tool: "k6" as const, scenario: undefined }
        const errors = yield* withController(Effect.all([
          Effect.flip(launch(plan, { nodes: ["ctl-1", "nope"] }, { testId: "ctl-bad-1" })),
          Effect.flip(launch({ ...k6, tool: "no-such-tool" }, {}, { testId: "ctl-bad-2" })),
          Effect.flip(launch(plan, { count: 4 }, { testId: "ctl-bad-3" }))
        ]))
        expect(errors.map((e) => e.message)).toEqual([
          "unknown node nope (live nodes: ctl-1, ctl-2, ctl-3)",
          expect.stringMatching(/^no node offers tool no-such-tool/),
          "too few idle nodes with tool builtin: need 4, 3 idle"
        ])
        yield* Effect.sleep("300 millis")
        expect((yield* client.events).filter((e) => e.testId?.startsWith("ctl-bad"))).toEqual([])
      }), 30_000)

    it.effect("Ctrl-C on grid launch stops the test on every node and still prints the summary", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const target = yield* Target
        yield* allIdle
        const dir = yield* tempDir("grid-ctl-")
        const planFile = path.join(dir, "plan.json")
        fs.writeFileSync(planFile, JSON.stringify({
          tool: "builtin",
          params: { target: target.url },
          scenario: { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 30, durationSeconds: 60 } }
        }))
        const child = yield* spawnGrid(["launch", planFile, "--nats-url", nats.url, "--test-id", "ctl-int", "--out", path.join(dir, "out.json")])
        // Any second: on a busy machine the nodes' engines (and their workers) may take 10 s to start.
        yield* waitUntil("a merged second with requests", Effect.sync(() => /\n\d+:\d\d .*rps [1-9]/.test(child.output())), "45 seconds")
        child.child.kill("SIGINT")
        expect(yield* child.exited).toBe(130)
        const out = child.output()
        expect(out).toContain("interrupted: stopping the test on every node")
        expect(out).toMatch(/TOTAL/)
        expect(out).toContain("(interrupted)")
        // The launch waited for them; this test's own event follower may be a moment behind.
        for (const id of ids) {
          yield* waitUntil(`stopped event of ${id}`, Effect.map(client.eventsOf("ctl-int"), (all) => all.some((e) => e.nodeId === id && e.kind === "stopped")), "10 seconds")
        }
        const written = JSON.parse(fs.readFileSync(path.join(dir, "out.json"), "utf8"))
        expect(written.outcome).toBe("interrupted")
        expect(written.total.count).toBeGreaterThan(0)
      }), 90_000)
  })

  describe("node loss", () => {
    it.effect("a SIGKILLed daemon fails the launch and the others are stopped", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const prefix = "gk"
        const settings = { url: nats.url, subjectPrefix: prefix, nodeTtl: Duration.seconds(3) }
        // The controller creates the bucket first, with a short TTL, so the loss shows quickly.
        yield* withController(Effect.flatMap(Controller, (c) => c.nodes), settings)
        const work = yield* tempDir("grid-ctl-work-")
        const procs = yield* Effect.forEach(["k1", "k2", "k3"], (id) =>
          spawnDaemonScoped(["--nats-url", nats.url, "--subject-prefix", prefix, "--node-id", id, "--heartbeat-interval", "1s", "--work-dir", work, "--stop-grace", "2s"]))
        yield* waitUntil("three gk nodes", Effect.map(withController(Effect.flatMap(Controller, (c) => c.nodes), settings), (nodes) => nodes.length === 3), "30 seconds")
        const plan = yield* builtinPlan(60, 30)
        let killed = false
        const report = yield* withController(
          launch(plan, {}, {
            testId: "ctl-kill",
            onUpdate: (u) => {
              if (!killed && u.type === "window" && u.point.seq >= 1 && u.point.count > 0) {
                killed = true
                procs[1]!.child.kill("SIGKILL")
              }
            }
          }),
          settings
        )
        expect(killed).toBe(true)
        expect(report.outcome).toBe("failed")
        expect(report.problems.join()).toMatch(/node k2 lost: no heartbeat/)
        expect(report.nodes.map((n) => [n.nodeId, n.status])).toEqual([["k1", "stopped"], ["k2", "lost"], ["k3", "stopped"]])
        expect(report.summary.total.count).toBeGreaterThan(0)
        yield* killOrphanEngine("ctl-kill", "k2", settings)
      }), 60_000)

    it.effect("with --tolerate-node-loss the launch goes on and the summary says so", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const prefix = "gk"
        const settings = { url: nats.url, subjectPrefix: prefix, nodeTtl: Duration.seconds(3) }
        const work = yield* tempDir("grid-ctl-work-")
        const procs = yield* Effect.forEach(["t1", "t2"], (id) =>
          spawnDaemonScoped(["--nats-url", nats.url, "--subject-prefix", prefix, "--node-id", id, "--heartbeat-interval", "1s", "--work-dir", work, "--stop-grace", "2s"]))
        yield* waitUntil(
          "two t nodes",
          Effect.map(withController(Effect.flatMap(Controller, (c) => c.nodes), settings), (nodes) => nodes.filter((n) => n.heartbeat.nodeId.startsWith("t")).length === 2),
          "30 seconds"
        )
        const plan = yield* builtinPlan(8, 20)
        let killed = false
        const report = yield* withController(
          launch(plan, { nodes: ["t1", "t2"] }, {
            testId: "ctl-tolerate",
            tolerateNodeLoss: true,
            onUpdate: (u) => {
              if (!killed && u.type === "window" && u.point.seq >= 1 && u.point.count > 0) {
                killed = true
                procs[1]!.child.kill("SIGKILL")
              }
            }
          }),
          settings
        )
        expect(report.outcome).toBe("ok")
        expect(report.tolerated).toEqual(["t2"])
        expect(report.nodes.map((n) => [n.nodeId, n.status])).toEqual([["t1", "finished"], ["t2", "lost"]])
        expect(reportText(report)).toContain("nodes lost and tolerated (--tolerate-node-loss): t2")
        yield* killOrphanEngine("ctl-tolerate", "t2", settings)
      }), 60_000)
  })
})
