// `grid daemon` as a real process: signals, exit codes, NATS outages and restarts, commands
// sent while the node was down, and authentication failures. Each case asserts that nothing
// it started (process, work directory, heartbeat) survives.
import { layer } from "@effect/vitest"
import { type Duration, Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { alive } from "./support/daemon.ts"
import { exitOf, launchDaemon, spawnDaemonScoped } from "./support/daemonProcess.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { freePort, natsServerBinary, TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const env = WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer()))

const sh = (script: string) => ({ command: ["sh", "-c", script] })
const terminalOf = (testId: string, timeout?: Duration.Input) => Effect.flatMap(WireClient, (c) => c.terminalOf(testId, timeout))
const kinds = (testId: string) => Effect.flatMap(WireClient, (c) => Effect.map(c.eventsOf(testId), (all) => all.map((e) => e.kind)))

describe("grid daemon process", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("SIGTERM during a test: stopped event after cleanup, heartbeat deleted, exit 0", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const d = yield* launchDaemon("proc-term", { stopGrace: "5s" })
        yield* client.send("proc-term", { kind: "start", testId: "term-1", tool: "command", params: sh("sleep 60 & wait") })
        const started = yield* client.waitEvent("term-1", "started")
        d.child.kill("SIGTERM")
        expect(yield* exitOf(d)).toBe(0)
        const stopped = yield* terminalOf("term-1")
        expect(stopped).toMatchObject({ kind: "stopped", reason: "daemon shutdown", cleanup: { ok: true } })
        expect(alive(-started.pid!)).toBe(false)
        // Only the node's own dot-files (journal, marker) are left: no test directory.
        expect(fs.readdirSync(path.join(d.workDir, "proc-term")).filter((n) => !n.startsWith("."))).toEqual([])
        expect(yield* client.heartbeat("proc-term")).toBeUndefined()
      }))

    it.effect("a second SIGTERM skips the grace of a tool that ignores the first", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const d = yield* launchDaemon("proc-force", { stopGrace: "60s" })
        yield* client.send("proc-force", { kind: "start", testId: "force-1", tool: "command", params: sh("trap '' TERM; while true; do sleep 0.1; done") })
        const started = yield* client.waitEvent("force-1", "started")
        d.child.kill("SIGTERM")
        yield* Effect.sleep("500 millis")
        expect(d.child.exitCode).toBeNull()
        d.child.kill("SIGTERM")
        // Well within the 60 s grace the first SIGTERM would have waited.
        expect(yield* exitOf(d).pipe(Effect.timeout("30 seconds"))).toBe(0)
        expect((yield* terminalOf("force-1")).kind).toBe("stopped")
        expect(alive(-started.pid!)).toBe(false)
      }))

    it.effect("survives a NATS restart mid-test: the test keeps running and no event is lost", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const d = yield* launchDaemon("proc-nats")
        yield* client.send("proc-nats", { kind: "start", testId: "outage-1", tool: "command", params: sh("sleep 3") })
        yield* client.waitEvent("outage-1", "started")
        yield* Effect.promise(() => nats.kill())
        // The tool finishes while NATS is away: its terminal event must wait and then arrive.
        yield* Effect.sleep("3500 millis")
        yield* Effect.promise(() => nats.start())
        const done = yield* terminalOf("outage-1", "30 seconds")
        expect(done.kind).toBe("finished")
        expect(yield* kinds("outage-1")).toEqual(["accepted", "started", "finished"])
        // Commands keep flowing after the restart.
        yield* client.send("proc-nats", { kind: "start", testId: "outage-2", tool: "command", params: sh("true") })
        expect((yield* terminalOf("outage-2", "30 seconds")).kind).toBe("finished")
        expect(d.child.exitCode).toBeNull()
      }))

    it.effect("receives commands published while it was down, once", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* Effect.scoped(Effect.gen(function*() {
          const first = yield* launchDaemon("proc-down")
          first.child.kill("SIGTERM")
          expect(yield* exitOf(first)).toBe(0)
        }))
        yield* client.send("proc-down", { kind: "start", testId: "while-down", tool: "command", params: sh("true") })
        yield* launchDaemon("proc-down")
        expect((yield* terminalOf("while-down")).kind).toBe("finished")
        expect((yield* client.eventsOf("while-down")).filter((e) => e.kind === "accepted")).toHaveLength(1)
      }))

    it.effect("drain: finishes the running test, refuses new ones, exits 0", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const d = yield* launchDaemon("proc-drain")
        yield* client.send("proc-drain", { kind: "start", testId: "drain-1", tool: "command", params: sh("sleep 1") })
        yield* client.waitEvent("drain-1", "started")
        yield* client.send("proc-drain", { kind: "drain" })
        yield* client.send("proc-drain", { kind: "start", testId: "drain-2", tool: "command", params: sh("true") })
        expect((yield* client.waitEvent("drain-2", "rejected")).code).toBe("draining")
        expect(yield* exitOf(d)).toBe(0)
        expect((yield* terminalOf("drain-1")).kind).toBe("finished")
      }))

    it.effect("flags and their GRID_* environment fallbacks reach the heartbeat", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const workDir = tempWorkRoot()
        const d = yield* spawnDaemonScoped(
          ["--nats-url", nats.url, "--work-dir", workDir, "--heartbeat-interval", "500ms", "--label", "team=perf", "--label", "zone=a", "--capacity", "3"],
          { GRID_NODE_ID: "proc-env", GRID_CHANNEL: "beta", GRID_GRID_ID: "blue" }
        )
        const hb = yield* waitUntil("heartbeat of proc-env", client.heartbeat("proc-env"))
        expect(hb).toMatchObject({ nodeId: "proc-env", gridId: "blue", channel: "beta", capacity: 3, labels: { team: "perf", zone: "a" }, state: "idle" })
        expect(hb.disk).toMatchObject({ workDir })
        d.child.kill("SIGTERM")
        expect(yield* exitOf(d)).toBe(0)
      }))

    it.effect("refuses bad flags with a clear message and a non-zero exit", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const d = yield* spawnDaemonScoped(["--nats-url", nats.url, "--node-id", "no spaces", "--work-dir", tempWorkRoot()])
        expect(yield* exitOf(d)).not.toBe(0)
        expect(d.output()).toContain("--node-id")
      }))

    it.effect("a refused authentication is a clear fatal start-up error, not a retry loop", () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(() => freePort())
        const store = tempWorkRoot()
        yield* Effect.acquireRelease(
          Effect.sync(() =>
            spawn(natsServerBinary(), ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store, "--user", "grid", "--pass", "s3cret"], { stdio: "ignore" })
          ),
          (server) =>
            Effect.sync(() => {
              server.kill("SIGKILL")
              fs.rmSync(store, { recursive: true, force: true })
            })
        )
        yield* Effect.sleep("500 millis")
        const url = `nats://127.0.0.1:${port}`
        const bad = yield* spawnDaemonScoped(["--nats-url", url, "--node-id", "auth-1", "--nats-user", "grid"], { GRID_NATS_PASSWORD: "wrong-password" })
        expect(yield* exitOf(bad)).not.toBe(0)
        expect(bad.output()).toMatch(/[Aa]uthorization/)
        expect(bad.output()).not.toContain("wrong-password")
        const good = yield* spawnDaemonScoped(["--nats-url", url, "--node-id", "auth-2", "--nats-user", "grid"], { GRID_NATS_PASSWORD: "s3cret" })
        yield* waitUntil("authenticated daemon up", Effect.sync(() => good.output().includes("up (grid")))
        good.child.kill("SIGTERM")
        expect(yield* exitOf(good)).toBe(0)
      }))
  })
})
