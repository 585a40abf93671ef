// `grid run`'s node (src/daemon/LocalNode.ts) runs the built-in engine with the inprocess
// runner against a real target: the node says so (`accepted` names the runner, `started` the
// node's own pid, the cleanup report the in-process tool), the samples reach the windows it
// publishes through push-mode ingestion, and its terminal summary is those windows' totals.
// A daemon's backends do not offer inprocess.
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Duration, Effect, Layer, Stream } from "effect"
import { defaultSettings } from "../src/daemon/DaemonConfig.ts"
import { localNode } from "../src/daemon/LocalNode.ts"
import { serveTarget } from "../src/engine/TargetServer.ts"
import type { GridEvent } from "../src/protocol/events.ts"
import { Backends } from "../src/runner/Backends.ts"
import { DockerCli } from "../src/runner/DockerCli.ts"
import { mergeWindows } from "../src/report/mergeWindows.ts"

describe("grid run's node", () => {
  it.live("runs the engine in-process and its summary is the totals of the windows it published", () =>
    Effect.gen(function*() {
      const target = yield* serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} })
      const workDir = mkdtempSync(join(tmpdir(), "grid-local-node-"))
      const status = { users: 0, dropped: 0, arrivals: 0 }
      const node = yield* localNode(defaultSettings({ nodeId: "local", workDir, stopGrace: Duration.seconds(5) }), { status })
      const scenario = { target: target.url, requests: [{ name: "a", path: "/a" }, { name: "b", path: "/b?status=500", expect: [200] }], load: { model: "open", rate: 40, durationSeconds: 1 } }
      yield* node.send({ kind: "start", commandId: "c-1", testId: "t-1", tool: "builtin", entry: "s.json", files: [{ path: "s.json", content: JSON.stringify(scenario) }] })
      const events: Array<GridEvent> = []
      yield* node.events.pipe(
        Stream.tap((e) => Effect.sync(() => void events.push(e))),
        Stream.takeUntil((e) => e.kind === "finished" || e.kind === "failed" || e.kind === "stopped" || e.kind === "rejected"),
        Stream.runDrain
      )
      const accepted = events.find((e) => e.kind === "accepted")
      const started = events.find((e) => e.kind === "started")
      const end = events.at(-1)!
      assert.strictEqual(accepted?.kind === "accepted" ? accepted.runner : undefined, "inprocess")
      assert.deepInclude(started, { pid: process.pid })
      assert.strictEqual(end.kind, "finished", JSON.stringify(end))
      if (end.kind !== "finished") return
      assert.include(end.cleanup.removed, "in-process tool")
      const totals = mergeWindows(node.results.windows)
      // Each arrival runs both requests: 40 arrivals, 80 samples, b's 40 are errors.
      assert.strictEqual(totals.all?.count, 80)
      assert.strictEqual(totals.of("b").errors, 40)
      assert.strictEqual(end.summary?.count, totals.all?.count)
      assert.strictEqual(end.summary?.errors, totals.all?.errors)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)

  it.effect("a daemon's backends are process and docker, never inprocess", () =>
    Effect.gen(function*() {
      const backends = yield* Backends
      assert.isDefined(backends.get("process"))
      assert.isDefined(backends.get("docker"))
      assert.isUndefined(backends.get("inprocess"))
    }).pipe(Effect.provide(Backends.layer({ forcedGrace: "1 second" }).pipe(Layer.provide(DockerCli.layer()), Layer.provide(NodeServices.layer)))))
})
