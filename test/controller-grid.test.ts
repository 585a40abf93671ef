// The controller against real daemons on one real nats-server, running the builtin engine
// against a local target: the merged count equals the target's count and the merged p99 the
// p99 of the union of every node's samples; the start goes through a barrier; bad selections
// send nothing; Ctrl-C on `grid launch` stops every node and still prints the summary; a
// SIGKILLed daemon (its heartbeat expires) fails the launch and the others are stopped.
import { Duration, Effect, Exit, Layer, Scope } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Controller } from "../src/controller/Controller.ts"
import type { LaunchOptions } from "../src/controller/Launch.ts"
import { decodePlan } from "../src/controller/Plan.ts"
import { reportText } from "../src/controller/Report.ts"
import type { Selection } from "../src/controller/Selection.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { decodeHistogram, newHistogram } from "../src/protocol/results.ts"
import { alive, gridMain, type InProcessDaemon, nodeBin, spawnDaemon, startDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient
let daemons: Array<InProcessDaemon> = []
let target: RunningTarget
const targetScope = Effect.runSync(Scope.make())
const ids = ["ctl-1", "ctl-2", "ctl-3"]

beforeAll(async () => {
  nats = await startNatsServer()
  client = await gridClient(nats.url)
  target = await Effect.runPromise(
    Scope.provide(targetScope)(serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} }))
  )
  daemons = await Promise.all(ids.map((nodeId) => startDaemon(client, { natsUrl: nats.url, nodeId })))
}, 30_000)
afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop()))
  await Effect.runPromise(Scope.close(targetScope, Exit.void))
  await client?.close()
  await nats?.close()
}, 30_000)

const builtinPlan = (durationSeconds: number, rate: number) =>
  Effect.runPromise(decodePlan({
    name: "ctl",
    tool: "builtin",
    params: { target: target.url },
    scenario: { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate, durationSeconds } }
  }, "inline plan"))

const withController = <A, E>(effect: Effect.Effect<A, E, Controller | Scope.Scope>, settings: Parameters<typeof Controller.layerNats>[0] = { url: nats.url }) =>
  Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(Controller.layerNats(settings) as Layer.Layer<Controller>)))

const launch = (plan: Awaited<ReturnType<typeof builtinPlan>>, selection: Selection, options: LaunchOptions) =>
  Effect.flatMap(Controller, (c) => c.launch(plan, selection, options)).pipe(Effect.flatMap((l) => l.await))

const allIdle = () =>
  waitUntil("every node idle", async () => {
    const hbs = await Promise.all(ids.map((id) => client.heartbeat(id)))
    return hbs.every((h) => h?.state === "idle") || undefined
  })

describe("grid launch on three daemons", () => {
  it("merges to the target's count and the union's p99, starting through a barrier", async () => {
    const plan = await builtinPlan(3, 60)
    const before = target.stats.total
    const report = await withController(launch(plan, { nodes: ids }, { testId: "ctl-merge" }))
    expect(report.outcome).toBe("ok")
    expect(report.nodes.map((n) => [n.nodeId, n.status, n.rate])).toEqual([["ctl-1", "finished", 20], ["ctl-2", "finished", 20], ["ctl-3", "finished", 20]])
    const served = target.stats.total - before
    expect(served).toBeGreaterThan(100)
    expect(report.summary.total.count).toBe(served)
    expect(report.points.reduce((n, p) => n + p.count, 0)).toBe(served)

    // The union of every sample: each node's `*` histograms as stored, read independently.
    const seen = new Set<string>()
    const union = newHistogram()
    for (const w of await client.results("ctl-merge")) {
      if (seen.has(`${w.nodeId}.${w.seq}`)) continue
      seen.add(`${w.nodeId}.${w.seq}`)
      for (const l of w.labels) if (l.label === "*" && l.count > 0) union.add(decodeHistogram(l.hdr))
    }
    expect(union.totalCount).toBe(served)
    const p99 = union.getValueAtPercentile(99) / 1000
    expect(Math.abs(report.summary.total.latencyMs.p99 - p99)).toBeLessThanOrEqual(p99 * 0.001 + 0.001)

    // Barrier: every node was ready before any started.
    const kinds = client.eventsOf("ctl-merge").map((e) => e.kind)
    expect(kinds.filter((k) => k === "ready")).toHaveLength(3)
    expect(kinds.lastIndexOf("ready")).toBeLessThan(kinds.indexOf("started"))
  }, 60_000)

  it("refuses an unknown node, a tool no node offers and too few idle nodes, sending nothing", async () => {
    const plan = await builtinPlan(1, 10)
    const k6 = { ...plan, tool: "k6" as const, scenario: undefined }
    const errors = await withController(Effect.all([
      Effect.flip(launch(plan, { nodes: ["ctl-1", "nope"] }, { testId: "ctl-bad-1" })),
      Effect.flip(launch({ ...k6, tool: "no-such-tool" }, {}, { testId: "ctl-bad-2" })),
      Effect.flip(launch(plan, { count: 4 }, { testId: "ctl-bad-3" }))
    ]))
    expect(errors.map((e) => e.message)).toEqual([
      "unknown node nope (live nodes: ctl-1, ctl-2, ctl-3)",
      expect.stringMatching(/^no node offers tool no-such-tool/),
      "too few idle nodes with tool builtin: need 4, 3 idle"
    ])
    await new Promise((r) => setTimeout(r, 300))
    expect(client.events.filter((e) => e.testId?.startsWith("ctl-bad"))).toEqual([])
  }, 30_000)

  it("Ctrl-C on grid launch stops the test on every node and still prints the summary", async () => {
    await allIdle()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-ctl-"))
    try {
      const planFile = path.join(dir, "plan.json")
      fs.writeFileSync(planFile, JSON.stringify({
        tool: "builtin",
        params: { target: target.url },
        scenario: { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 30, durationSeconds: 60 } }
      }))
      const child = spawn(nodeBin, [gridMain, "launch", planFile, "--nats-url", nats.url, "--test-id", "ctl-int", "--out", path.join(dir, "out.json")], { stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      child.stdout!.on("data", (d) => (out += d))
      child.stderr!.on("data", (d) => (out += d))
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      await waitUntil("a merged second with requests", () => /\n0:0[2-9] .*rps [1-9]/.test(out) || undefined, 30_000)
      child.kill("SIGINT")
      expect(await exited).toBe(130)
      expect(out).toContain("interrupted: stopping the test on every node")
      expect(out).toMatch(/TOTAL/)
      expect(out).toContain("(interrupted)")
      // The launch waited for them; this test's own event follower may be a moment behind.
      for (const id of ids) {
        await waitUntil(`stopped event of ${id}`, () => client.eventsOf("ctl-int").some((e) => e.nodeId === id && e.kind === "stopped") || undefined, 10_000)
      }
      const written = JSON.parse(fs.readFileSync(path.join(dir, "out.json"), "utf8"))
      expect(written.outcome).toBe("interrupted")
      expect(written.total.count).toBeGreaterThan(0)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})

describe("node loss", () => {
  it("a SIGKILLed daemon fails the launch and the others are stopped", async () => {
    const prefix = "gk"
    const settings = { url: nats.url, subjectPrefix: prefix, nodeTtl: Duration.seconds(3) }
    // The controller creates the bucket first, with a short TTL, so the loss shows quickly.
    await withController(Effect.flatMap(Controller, (c) => c.nodes), settings)
    const work = tempWorkRoot()
    const procs = ["k1", "k2", "k3"].map((id) =>
      spawnDaemon(["--nats-url", nats.url, "--subject-prefix", prefix, "--node-id", id, "--heartbeat-interval", "1s", "--work-dir", work, "--stop-grace", "2s"])
    )
    try {
      await waitUntil("three gk nodes", async () => (await withController(Effect.flatMap(Controller, (c) => c.nodes), settings)).length === 3 || undefined, 30_000)
      const plan = await builtinPlan(60, 30)
      let killed = false
      const report = await withController(
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
      // The killed daemon's engine is an orphan now (the orphan sweep handles it on restart): end it here.
      const { events } = await withController(Effect.flatMap(Controller, (c) => c.history("ctl-kill")), settings)
      const started = events.find((e) => e.nodeId === "k2" && e.kind === "started")
      const pid = started?.kind === "started" ? started.pid : undefined
      if (pid !== undefined && alive(-pid)) process.kill(-pid, "SIGKILL")
    } finally {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGTERM")
      await Promise.all(procs.map((p) => p.exited))
      fs.rmSync(work, { recursive: true, force: true })
    }
  }, 60_000)
  it("with --tolerate-node-loss the launch goes on and the summary says so", async () => {
    const prefix = "gk"
    const settings = { url: nats.url, subjectPrefix: prefix, nodeTtl: Duration.seconds(3) }
    const work = tempWorkRoot()
    const procs = ["t1", "t2"].map((id) =>
      spawnDaemon(["--nats-url", nats.url, "--subject-prefix", prefix, "--node-id", id, "--heartbeat-interval", "1s", "--work-dir", work, "--stop-grace", "2s"])
    )
    try {
      await waitUntil("two t nodes", async () => (await withController(Effect.flatMap(Controller, (c) => c.nodes), settings)).filter((n) => n.heartbeat.nodeId.startsWith("t")).length === 2 || undefined, 30_000)
      const plan = await builtinPlan(8, 20)
      let killed = false
      const report = await withController(
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
      const { events } = await withController(Effect.flatMap(Controller, (c) => c.history("ctl-tolerate")), settings)
      const started = events.find((e) => e.nodeId === "t2" && e.kind === "started")
      const pid = started?.kind === "started" ? started.pid : undefined
      if (pid !== undefined && alive(-pid)) process.kill(-pid, "SIGKILL")
    } finally {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGTERM")
      await Promise.all(procs.map((p) => p.exited))
      fs.rmSync(work, { recursive: true, force: true })
    }
  }, 60_000)
})
