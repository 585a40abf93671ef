// Issue #14 item 1, the launch lease as a dead man's switch, against two real daemons on a
// real nats-server and a real `grid launch` process: SIGKILL the launch mid-run and every node
// stops its share within the lease (+ 5 s), as the target itself counts (its request count stops
// growing), with `stopped` reason `lease_expired`. A `--detach` launch carries no lease: it
// exits at once and its test runs on.
import { layer } from "@effect/vitest"
import { Clock, Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { TestDaemon } from "./support/daemon.ts"
import { runGrid, spawnGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const ids = ["lease-1", "lease-2"]

class Target extends Context.Service<Target, RunningTarget>()("test/safety-lease/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} }))
}

const daemons = Layer.effectDiscard(Effect.forEach(ids, (nodeId) => TestDaemon.make({ nodeId }), { concurrency: "unbounded" }))
const env = daemons.pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(Layer.mergeAll(TestNats.layer(), Target.layer))
)

const tempDir = (prefix: string) =>
  Effect.acquireRelease(Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))), (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))

/** A builtin plan file of 60 s at `rate` against the target. */
const planFile = (extra: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const target = yield* Target
    const dir = yield* tempDir("grid-lease-")
    const file = path.join(dir, "plan.json")
    fs.writeFileSync(file, JSON.stringify({
      tool: "builtin",
      params: { target: target.url },
      scenario: { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 40, durationSeconds: 60 } },
      ...extra
    }))
    return file
  })

const allIdle = Effect.flatMap(WireClient, (client) =>
  waitUntil("every node idle", Effect.map(Effect.forEach(ids, (id) => client.heartbeat(id)), (hbs) => hbs.every((h) => h?.state === "idle")), "30 seconds"))

layer(env, { excludeTestServices: true, timeout: "90 seconds" })((it) => {
  describe("launch lease", () => {
    it.effect("a SIGKILLed grid launch: every node stops within lease + 5 s (counted at the target), reason lease_expired", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const target = yield* Target
        yield* allIdle
        const file = yield* planFile()
        const lease = 3
        const launch = yield* spawnGrid(["launch", file, "--nats-url", nats.url, "--nodes", ids.join(","), "--test-id", "lease-kill", "--lease", `${lease}s`])
        yield* waitUntil("both nodes started", Effect.map(client.eventsOf("lease-kill"), (es) => es.filter((e) => e.kind === "started").length === 2), "30 seconds")
        yield* waitUntil("load at the target", Effect.sync(() => target.stats.total > 40), "20 seconds")
        launch.child.kill("SIGKILL")
        const killedAt = yield* Clock.currentTimeMillis
        yield* launch.exited

        // The target's count, sampled until it has not grown for 3 s.
        let last = target.stats.total
        let lastGrowth = killedAt
        yield* waitUntil("the target's count stops growing", Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          if (target.stats.total !== last) {
            last = target.stats.total
            lastGrowth = now
          }
          return now - lastGrowth >= 3000
        }), "40 seconds")
        const stoppedAfterMs = lastGrowth - killedAt
        console.log(`lease ${lease} s: the target's count last grew ${stoppedAfterMs} ms after the SIGKILL`)
        expect(stoppedAfterMs).toBeGreaterThan(0)
        expect(stoppedAfterMs).toBeLessThanOrEqual((lease + 5) * 1000)

        for (const id of ids) {
          const end = yield* waitUntil(`terminal event of ${id}`, Effect.map(client.eventsOf("lease-kill"), (es) => es.find((e) => e.nodeId === id && e.kind === "stopped")), "20 seconds")
          expect(end.kind === "stopped" && end.reason).toBe("lease_expired")
        }
        const start = (yield* client.eventsOf("lease-kill")).find((e) => e.kind === "accepted")
        expect(start).toBeDefined()
      }), 90_000)

    it.effect("a --detach launch carries no lease: it exits at once and the test runs on", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        yield* allIdle
        const file = yield* planFile({ lease: "2s" })
        const launch = yield* spawnGrid(["launch", file, "--nats-url", nats.url, "--nodes", ids[0]!, "--test-id", "lease-detach", "--detach"])
        expect(yield* launch.exited).toBe(0)
        expect(launch.output()).toMatch(/detached.*no lease/)
        // Well past the plan's 2 s lease, the test still runs; then it is stopped by command.
        yield* Effect.sleep("5 seconds")
        expect((yield* client.eventsOf("lease-detach")).map((e) => e.kind)).toEqual(["accepted", "started"])
        yield* client.send(ids[0]!, { kind: "stop", testId: "lease-detach", reason: "test over" })
        const end = yield* client.terminalOf("lease-detach", "20 seconds")
        expect(end.kind === "stopped" && end.reason).toBe("test over")
      }), 60_000)

    it.effect("--lease 0 and --lease with --detach are refused before anything is sent", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const file = yield* planFile()
        const zero = yield* runGrid(["launch", file, "--nats-url", nats.url, "--nodes", ids[0]!, "--lease", "0"])
        expect(zero.code).toBe(1)
        expect(zero.stderr).toContain("--lease: must be more than 0")
        const both = yield* runGrid(["launch", file, "--nats-url", nats.url, "--nodes", ids[0]!, "--lease", "5s", "--detach"])
        expect(both.code).toBe(1)
        expect(both.stderr).toContain("a detached launch carries no lease")
      }), 30_000)
  })
})
