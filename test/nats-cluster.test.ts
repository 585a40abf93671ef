// A grid on a three-server NATS cluster (issue 18, item 2): real nats-servers clustered with
// JetStream on loopback ports, real `grid daemon` processes and `grid launch` given every
// server's URL and --stream-replicas 3. The server leading GRID_RESULTS is SIGKILLed mid-test:
// the launch completes with merged totals equal to what the target served, each node's windows
// gap-free with one final and none stored twice; the server restarted catches up; a second
// server lost with the first makes the launch fail saying quorum was lost, instead of hanging.
import { layer } from "@effect/vitest"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect, type NatsConnection as NatsConnectionCore } from "@nats-io/transport-node"
import { Clock, Context, Duration, Effect, Layer, Schedule, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { Controller } from "../src/controller/Controller.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { ensureAssets } from "../src/nats/JetStreamAssets.ts"
import { NatsConnection } from "../src/nats/NatsConnection.ts"
import { assets, subjects } from "../src/protocol/names.ts"
import type { ResultWindow } from "../src/protocol/results.ts"
import { launchDaemon } from "./support/daemonProcess.ts"
import { runGrid, spawnGrid } from "./support/gridCli.ts"
import { clusterAsTestNats, type NatsCluster, TestNatsCluster } from "./support/natsCluster.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/nats-cluster/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} }))
}
class Dir extends Context.Service<Dir, string>()("test/nats-cluster/Dir") {
  static readonly layer = Layer.effect(Dir, Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "grid-cluster-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ))
}

/** The grid's assets with three replicas, created the way a daemon or controller does, before
 * the wire client (which would create them with one). */
const replicatedAssets = Layer.effectDiscard(Effect.gen(function*() {
  const cluster = yield* TestNatsCluster
  // A node TTL that outlasts an election on a loaded machine: heartbeats (KV puts) wait for it
  // like windows do, and this test is about the windows.
  yield* ensureAssets(assets("grid"), subjects("grid"), Duration.seconds(60), { replicas: 3 }).pipe(
    Effect.provide(NatsConnection.layer({ url: cluster.url, auth: {}, name: "test-assets" })),
    Effect.orDie
  )
}))
// The wire client on the first server: nats.js learns the others and moves when it dies.
const wire = Layer.effect(WireClient, Effect.flatMap(TestNatsCluster, (c) => WireClient.make(c.members[0]!.url)))

const env = Layer.mergeAll(wire, clusterAsTestNats).pipe(
  Layer.provideMerge(replicatedAssets),
  Layer.provideMerge(Layer.mergeAll(TestNatsCluster.layer(3), Target.layer, Dir.layer))
)

/** A request to whichever servers run, retried through elections (a leader just lost). */
const onCluster = <A>(c: NatsCluster, f: (nc: NatsConnectionCore) => Promise<A>) =>
  Effect.tryPromise(async () => {
    const nc = await connect({ servers: c.members.filter((m) => m.running()).map((m) => m.url) })
    try {
      return await f(nc)
    } finally {
      await nc.close()
    }
  }).pipe(Effect.retry(Schedule.spaced("500 millis").pipe(Schedule.upTo({ duration: "60 seconds" }))), Effect.orDie)

const streamInfo = (c: NatsCluster, name: string) =>
  onCluster(c, async (nc) => (await jetstreamManager(nc)).streams.info(name))

/** Every window stored for a test, duplicates included. */
const storedWindows = (c: NatsCluster, testId: string) =>
  onCluster(c, async (nc) => {
    const consumer = await jetstream(nc).consumers.get("GRID_RESULTS", { filter_subjects: `grid.results.${testId}.>` })
    const out: Array<ResultWindow> = []
    for (;;) {
      const m = await consumer.next({ expires: 2_000 })
      if (!m) return out
      out.push(JSON.parse(m.string()) as ResultWindow)
    }
  })

const writePlan = (name: string, rate: number, durationSeconds: number) =>
  Effect.gen(function*() {
    const file = path.join(yield* Dir, `${name}.json`)
    fs.writeFileSync(file, JSON.stringify({
      name,
      tool: "builtin",
      scenario: { target: (yield* Target).url, requests: [{ name: "home", path: "/" }], load: { model: "open", rate, durationSeconds } }
    }))
    return file
  })

/** Every node's windows: seqs 0..n without a gap, exactly one final (the last), none twice. */
const checkWindows = (stored: ReadonlyArray<ResultWindow>, nodes: ReadonlyArray<string>) => {
  for (const node of nodes) {
    const mine = stored.filter((w) => w.nodeId === node)
    const seqs = mine.map((w) => w.seq).sort((a, b) => a - b)
    expect(seqs.length, `windows of ${node}`).toBeGreaterThan(0)
    expect(seqs, `seqs of ${node}`).toEqual(seqs.map((_, i) => i))
    expect(mine.filter((w) => w.final).map((w) => w.seq), `final of ${node}`).toEqual([seqs.length - 1])
  }
}

const daemonArgs = ["--stream-replicas", "3", "--stop-grace", "2s"]

describe("a grid on a three-server NATS cluster", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("--stream-replicas creates replicated assets; existing ones with fewer are reported, not changed", () =>
      Effect.gen(function*() {
        const cluster = yield* TestNatsCluster
        const results = yield* streamInfo(cluster, "GRID_RESULTS")
        expect(results.config.num_replicas).toBe(3)
        expect((yield* streamInfo(cluster, "KV_grid_nodes")).config.num_replicas).toBe(3)
        // Another grid (prefix) created with one replica, then asked for three.
        const first = yield* runGrid(["nodes", "--nats-url", cluster.url, "--subject-prefix", "single"])
        expect(first.code).toBe(0)
        const again = yield* runGrid(["nodes", "--nats-url", cluster.members[1]!.url, "--nats-url", cluster.members[2]!.url, "--subject-prefix", "single", "--stream-replicas", "3"])
        expect(again.code).toBe(0)
        expect(again.out).toMatch(/stream GRID_RESULTS_SINGLE has 1 replica\(s\), fewer than --stream-replicas 3: left as it is/)
        expect(again.out).toMatch(/KV bucket grid_nodes_single has 1 replica\(s\)/)
        expect((yield* streamInfo(cluster, "GRID_RESULTS_SINGLE")).config.num_replicas).toBe(1)
      }), 60_000)

    it.effect("the controller keeps following heartbeats when its server, the grid_nodes leader, dies", () =>
      Effect.gen(function*() {
        const cluster = yield* TestNatsCluster
        const leader = yield* waitUntil("the grid_nodes leader", Effect.promise(() => cluster.leaderOf("KV_grid_nodes")))
        // Heartbeats of a fake node, put every 300 ms by another connection.
        const writer = yield* Effect.acquireRelease(
          Effect.promise(() => connect({ servers: cluster.members.filter((m) => m.name !== leader).map((m) => m.url), maxReconnectAttempts: -1 })),
          (nc) => Effect.promise(() => nc.close())
        )
        const kv = yield* Effect.promise(() => new Kvm(writer).open("grid_nodes"))
        const beat = (at: number) =>
          JSON.stringify({
            nodeId: "hb-1", gridId: "default", version: "test", channel: "stable", labels: {}, state: "idle", tests: [], capacity: 1, tools: [], runners: [],
            cpu: { cores: 1, load1: 0, usagePct: 0 }, memory: { totalMb: 1, freeMb: 1, rssMb: 1 }, disk: { workDir: "/tmp", freeMb: 1 },
            startedAt: new Date(at).toISOString(), at: new Date(at).toISOString()
          })
        yield* Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.promise(() => kv.put("hb-1", beat(now)).catch(() => 0))).pipe(
          Effect.repeat(Schedule.spaced("300 millis")),
          Effect.forkScoped
        )
        // The controller on the leader alone: nats.js learns the other servers from it.
        const seen: Array<number> = []
        const controller = yield* Layer.build(Controller.layerNats({ url: cluster.member(leader).url }))
        yield* Stream.runForEach(Context.get(controller, Controller).watchNodes, (c) =>
          c.op === "put" && c.nodeId === "hb-1" ? Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => seen.push(now))) : Effect.void).pipe(
            Effect.forkScoped
          )
        yield* waitUntil("a first heartbeat", Effect.sync(() => seen.length > 0))
        const killedAt = yield* Clock.currentTimeMillis
        yield* Effect.promise(() => cluster.member(leader).kill())
        // Fails before: the plain kv.watch() stalled for good, the node would be lost.
        yield* waitUntil("heartbeats again after the kill", Effect.sync(() => seen.filter((t) => t > killedAt + 1_000).length >= 3), "45 seconds")
        yield* Effect.promise(() => cluster.member(leader).start())
      }), 90_000)

    it.effect("the GRID_RESULTS leader is killed mid-test: totals equal what the target served, no window lost or doubled; restarted, it catches up", () =>
      Effect.gen(function*() {
        const cluster = yield* TestNatsCluster
        const target = yield* Target
        yield* launchDaemon("cl-1", { args: daemonArgs })
        yield* launchDaemon("cl-2", { args: daemonArgs })
        const served0 = target.stats.total
        const out = path.join(yield* Dir, "leader.json")
        const launch = yield* spawnGrid(["launch", yield* writePlan("leader", 40, 20), "--nats-url", cluster.url, "--stream-replicas", "3", "--nodes", "cl-1,cl-2", "--out", out])
        yield* waitUntil("a merged second with requests", Effect.sync(() => /\n\d+:\d\d .*rps [1-9]/.test(launch.output())), "60 seconds")
        const leader = yield* waitUntil("the GRID_RESULTS leader", Effect.promise(() => cluster.leaderOf("GRID_RESULTS")))
        yield* Effect.promise(() => cluster.member(leader).kill())
        const code = yield* launch.exited
        expect(code, launch.output()).toBe(0)
        const report = JSON.parse(fs.readFileSync(out, "utf8"))
        expect(report.outcome).toBe("ok")
        expect(report.duplicates ?? 0).toBe(0)
        const served = target.stats.total - served0
        expect(served).toBeGreaterThan(0)
        expect(report.total.count).toBe(served)
        const testId = report.testId as string
        const stored = yield* storedWindows(cluster, testId)
        checkWindows(stored, ["cl-1", "cl-2"])
        // No window stored twice (a publish retried across the election is deduplicated).
        expect(new Set(stored.map((w) => `${w.nodeId}.${w.seq}`)).size).toBe(stored.length)
        expect(stored.reduce((n, w) => n + (w.labels.find((l) => l.label === "home")?.count ?? 0), 0)).toBe(served)

        // Restarted, it rejoins as a current replica holding every message.
        yield* Effect.promise(() => cluster.member(leader).start())
        const last = (yield* streamInfo(cluster, "GRID_RESULTS")).state.last_seq
        yield* waitUntil(`${leader} caught up`, Effect.map(streamInfo(cluster, "GRID_RESULTS"), (info) => {
          const peers = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).filter((r) => r.current && (r.lag ?? 0) === 0).map((r) => r.name)]
          return peers.includes(leader) && info.state.last_seq >= last
        }), "60 seconds")
      }), 180_000)

    it.effect("a second server lost: the launch fails saying quorum was lost, instead of hanging", () =>
      Effect.gen(function*() {
        const cluster = yield* TestNatsCluster
        for (const m of cluster.members) yield* Effect.promise(() => m.start())
        yield* launchDaemon("cq-1", { args: daemonArgs })
        yield* launchDaemon("cq-2", { args: daemonArgs })
        const launch = yield* spawnGrid(["launch", yield* writePlan("quorum", 20, 120), "--nats-url", cluster.url, "--nodes", "cq-1,cq-2"])
        yield* waitUntil("a merged second with requests", Effect.sync(() => /\n\d+:\d\d .*rps [1-9]/.test(launch.output())), "60 seconds")
        const leader = yield* waitUntil("the GRID_RESULTS leader", Effect.promise(() => cluster.leaderOf("GRID_RESULTS")))
        const second = cluster.members.find((m) => m.name !== leader)!
        yield* Effect.promise(() => cluster.member(leader).kill())
        yield* Effect.promise(() => second.kill())
        const code = yield* launch.exited.pipe(Effect.timeout("150 seconds"), Effect.orDie)
        expect(code, launch.output()).toBe(1)
        expect(launch.output()).toMatch(/NATS JetStream unavailable for \d+ s: .*quorum lost/)
        // The servers back, so the daemons stop cleanly with the scope.
        yield* Effect.promise(() => cluster.member(leader).start())
        yield* Effect.promise(() => second.start())
      }), 240_000)
  })
})
