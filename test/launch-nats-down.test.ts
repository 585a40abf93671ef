// grid launch ends when NATS is away as it closes: interrupted while its server is down, it
// stops what it can, prints its summary and exits (1 once it has seen that no server answers
// JetStream, else 130), instead of waiting on consumers whose close never settles without a
// server (the controller no longer awaits those closes). A real nats-server, daemon and launch.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { launchDaemon } from "./support/daemonProcess.ts"
import { spawnGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/launch-nats-down/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} }))
}

const env = WireClient.layerNats.pipe(Layer.provideMerge(Layer.mergeAll(TestNats.layer(), Target.layer)))

describe("grid launch with NATS down at the end", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("Ctrl-C while the server is down: the launch still exits with its summary", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const target = yield* Target
        yield* launchDaemon("down-1", { stopGrace: "2s" })
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-down-"))
        const plan = path.join(dir, "plan.json")
        fs.writeFileSync(plan, JSON.stringify({
          name: "down",
          tool: "builtin",
          scenario: { target: target.url, requests: [{ name: "home", path: "/" }], load: { model: "open", rate: 20, durationSeconds: 120 } }
        }))
        const launch = yield* spawnGrid(["launch", plan, "--nats-url", nats.url, "--nodes", "down-1", "--test-id", "down-int"])
        yield* waitUntil("a merged second with requests", Effect.sync(() => /\n\d+:\d\d .*rps [1-9]/.test(launch.output())), "60 seconds")
        yield* Effect.promise(() => nats.kill())
        launch.child.kill("SIGINT")
        // Fails before: still running when this bound ran out (its followers' close never settled).
        const code = yield* launch.exited.pipe(Effect.timeout("90 seconds"), Effect.catch(() => Effect.succeed("hung" as const)))
        yield* Effect.promise(() => nats.start())
        // Interrupted (130), or failed (1) once the launch saw that no server answers JetStream.
        expect([130, 1], launch.output()).toContain(code)
        expect(launch.output()).toContain("interrupted: stopping the test on every node")
        expect(launch.output()).toMatch(/TOTAL/)
        fs.rmSync(dir, { recursive: true, force: true })
      }), 240_000)
  })
})
