// Back-to-back launches on the same node (issue 12, item 1): a CI pipeline runs two load tests
// in a row. The node publishes its heartbeat at once when its test ends (not a heartbeat
// interval later), and `grid launch` waits for selected nodes still busy, up to --wait-idle,
// saying what it waits for. A real daemon with a long heartbeat interval, on a real nats-server,
// driven by real `grid launch` processes.
import { layer } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { TestDaemon } from "./support/daemon.ts"
import { runGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/launch-twice/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} }))
}
/** Where the plans are written; removed with the suite. */
class PlanDir extends Context.Service<PlanDir, string>()("test/launch-twice/PlanDir") {
  static readonly layer = Layer.effect(PlanDir, Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "grid-twice-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ))
}

// A heartbeat interval longer than the gap between two launches: only a heartbeat on the
// state change can show the node idle in time.
const env = TestDaemon.layer({ nodeId: "twice-1", heartbeatInterval: Duration.seconds(6) }).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(Layer.mergeAll(TestNats.layer(), Target.layer, PlanDir.layer))
)

const plan = (name: string, durationSeconds: number) =>
  Effect.gen(function*() {
    const file = path.join(yield* PlanDir, `${name}.json`)
    const target = yield* Target
    fs.writeFileSync(file, JSON.stringify({
      name,
      tool: "builtin",
      scenario: { target: target.url, requests: [{ name: "home", path: "/" }], load: { model: "open", rate: 20, durationSeconds } }
    }))
    return file
  })

const launch = (planFile: Effect.Effect<string, never, PlanDir | Target>, args: Array<string> = []) =>
  Effect.gen(function*() {
    const nats = yield* TestNats
    return yield* runGrid(["launch", yield* planFile, ...args, "--nats-url", nats.url, "--nodes", "twice-1"])
  })

const stateOf = Effect.flatMap(WireClient, (client) => Effect.map(client.heartbeat("twice-1"), (hb) => hb?.state))

describe("back-to-back launches on the same node", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("the second launch, started right after the first ended, passes too", () =>
      Effect.gen(function*() {
        // Longer than a heartbeat interval: a heartbeat during the run says busy.
        const first = yield* launch(plan("first", 7))
        expect(first.out).not.toContain("not idle")
        expect(first.code).toBe(0)
        const second = yield* launch(plan("second", 1))
        expect(second.out).not.toContain("not idle")
        expect(second.code).toBe(0)
        expect(second.out).toMatch(/TOTAL\s+\d+/)
      }), 60_000)

    it.effect("the heartbeat says idle as soon as the test ended, not a heartbeat interval later", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* waitUntil("idle", Effect.map(stateOf, (s) => s === "idle"))
        const r = yield* launch(plan("beat", 1))
        expect(r.code).toBe(0)
        const finished = yield* client.waitEvent(r.out.match(/test (beat-[\w-]+)/)![1]!, "finished")
        // The terminal event is published before the test leaves the node's list, so the idle
        // heartbeat may reach the bucket a moment after the event reached us.
        yield* waitUntil("idle after finished", Effect.map(client.heartbeat("twice-1"), (h) => h?.state === "idle"), "5 seconds")
        const hb = yield* client.heartbeat("twice-1")
        expect(hb?.state).toBe("idle")
        // Published on the change: within a fraction of the 6 s interval after the finished event.
        expect(Date.parse(hb!.at) - Date.parse(finished.at)).toBeLessThan(1500)
      }), 60_000)

    it.effect("a launch while the node is busy waits for it, saying so; with --wait-idle 0 it refuses at once", () =>
      Effect.gen(function*() {
        // Long enough that the two launches below, slow to start on a loaded machine, still find it running.
        const long = yield* Effect.forkChild(launch(plan("long", 8)))
        yield* waitUntil("busy", Effect.map(stateOf, (s) => s === "busy"))
        const refused = yield* launch(plan("refused", 1), ["--wait-idle", "0"])
        expect(refused.code).toBe(1)
        expect(refused.out).toMatch(/not idle: twice-1 \(busy: long-/)
        const waited = yield* launch(plan("waited", 1), ["--wait-idle", "30s"])
        expect(waited.out).toMatch(/waiting up to 30 s for twice-1 \(busy: long-[\w-]+\) to become idle/)
        expect(waited.code).toBe(0)
        expect((yield* Fiber.join(long)).code).toBe(0)
      }), 60_000)
  })
})
