// The docker runner through the daemon, and the orphan sweep after a SIGKILLed daemon: a
// container and a tool process it left behind are removed when it comes back, with their
// work directories. The busybox image is a layer: built before the suite, removed after it.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { buildBusyboxImage, containersWithLabel, removeImage } from "./fixtures/docker/busyboxImage.ts"
import { alive } from "./support/daemon.ts"
import { exitOf, launchDaemon } from "./support/daemonProcess.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

class Busybox extends Context.Service<Busybox, string>()("grid/test/Busybox") {
  static readonly layer = Layer.effect(Busybox, Effect.acquireRelease(Effect.sync(buildBusyboxImage), (tag) => Effect.sync(() => removeImage(tag))))
}

const env = Layer.mergeAll(WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer())), Busybox.layer)

const terminalOf = (testId: string) => Effect.flatMap(WireClient, (c) => c.terminalOf(testId, "60 seconds"))
/** Up once its heartbeat offers the docker runner. */
const launch = (nodeId: string, workDir: string) => launchDaemon(nodeId, { workDir, stopGrace: "2s", ready: (hb) => hb.runners.includes("docker") })

describe("docker runner through the daemon", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("runs a container test with the work directory mounted, and removes the container", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const image = yield* Busybox
        const workDir = tempWorkRoot()
        yield* launch("dock-1", workDir)
        yield* client.send("dock-1", {
          kind: "start",
          testId: "dock-a",
          tool: "command",
          runner: "docker",
          image,
          files: [{ path: "in.txt", content: "from the node" }],
          params: { command: ["sh", "-c", "test \"$(cat /grid/work/in.txt)\" = 'from the node' && echo ok > /grid/work/out.txt"] }
        })
        const done = yield* terminalOf("dock-a")
        expect(done).toMatchObject({ kind: "finished", exitCode: 0, cleanup: { ok: true } })
        const started = yield* client.waitEvent("dock-a", "started")
        expect(typeof started.containerId).toBe("string")
        expect(done.cleanup.removed).toContain(`container ${started.containerId}`)
        expect(containersWithLabel("grid.test=dock-a")).toEqual([])
        expect(fs.existsSync(path.join(workDir, "dock-1", "dock-a"))).toBe(false)

        yield* client.send("dock-1", { kind: "start", testId: "dock-b", tool: "command", runner: "docker", image: "grid-no-such-image:1", params: { command: ["true"] } })
        const failed = yield* terminalOf("dock-b")
        expect(failed.kind).toBe("failed")
        expect(failed.kind === "failed" && failed.error.code).toBe("image_missing")
      }), 60_000)

    it.effect("sweeps the container, process and work directories a SIGKILLed daemon left", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const image = yield* Busybox
        const workDir = tempWorkRoot()
        // Each earlier life in its own scope: SIGKILLed here, its finalizer only waits for the exit.
        yield* Effect.scoped(Effect.gen(function*() {
          const first = yield* launch("dock-kill", workDir)
          yield* client.send("dock-kill", { kind: "start", testId: "left-c", tool: "command", runner: "docker", image, params: { command: ["sleep", "300"] } })
          yield* client.waitEvent("left-c", "started")
          first.child.kill("SIGKILL")
          yield* exitOf(first)
        }))
        expect(containersWithLabel("grid.test=left-c")).toHaveLength(1)
        expect(fs.existsSync(path.join(workDir, "dock-kill", "left-c"))).toBe(true)

        // A process-runner tool orphaned the same way.
        const started = yield* Effect.scoped(Effect.gen(function*() {
          const second = yield* launch("dock-kill", workDir)
          yield* client.send("dock-kill", { kind: "start", testId: "left-p", tool: "command", params: { command: ["sh", "-c", "sleep 300 & wait"] } })
          const started = yield* client.waitEvent("left-p", "started")
          expect(containersWithLabel("grid.test=left-c")).toEqual([])
          second.child.kill("SIGKILL")
          yield* exitOf(second)
          return started
        }))
        expect(alive(-started.pid!)).toBe(true)

        const third = yield* launch("dock-kill", workDir)
        yield* waitUntil("orphan process gone", Effect.sync(() => !alive(-started.pid!)))
        // Only the node's own dot-files (journal, marker) are left: no test directory.
        expect(fs.readdirSync(path.join(workDir, "dock-kill")).filter((n) => !n.startsWith("."))).toEqual([])
        expect(third.output()).toContain("removed leftover")
      }), 60_000)
  })
})
