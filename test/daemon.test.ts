// The daemon core end to end, in-process (GridDaemon.layer) against a real nats-server and
// real processes: every event of the protocol, bad input, capacity, duplicates, barrier,
// limits, drain; after each test no process and no work directory survive.
import { layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import type { ReadEvent } from "../src/protocol/events.ts"
import { alive, TestDaemon } from "./support/daemon.ts"
import { TestNats } from "./support/natsServer.ts"
import { type TerminalEvent, waitUntil, WireClient } from "./support/WireClient.ts"

const node = "core-1"
const env = TestDaemon.layer({ nodeId: node, capacity: 1, maxCommandBytes: 64 * 1024 }).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(TestNats.layer())
)

const sh = (script: string) => ({ command: ["sh", "-c", script] })
const kinds = (testId: string) => Effect.map(Effect.flatMap(WireClient, (c) => c.eventsOf(testId)), (all) => all.map((e) => e.kind))
const errorOf = (e: TerminalEvent) => (e.kind === "failed" ? e.error : undefined)
const isRejected = (e: ReadEvent): e is Extract<ReadEvent, { kind: "rejected" }> => e.kind === "rejected"
const expectClean = (testId: string, terminal: TerminalEvent) =>
  Effect.gen(function*() {
    const { settings } = yield* TestDaemon
    expect(fs.existsSync(path.join(settings.workDir, node, testId))).toBe(false)
    const started = (yield* (yield* WireClient).eventsOf(testId)).find((e) => e.kind === "started")
    if (started?.kind === "started") expect(alive(-started.pid!)).toBe(false)
    expect(terminal.cleanup.ok).toBe(true)
    expect(terminal.cleanup.errors).toEqual([])
    expect(terminal.cleanup.removed.some((r) => r.startsWith("workdir"))).toBe(true)
  })

describe("grid daemon core", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("runs a command test: accepted, started, finished, after cleanup, and advertises itself", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const hb = yield* client.heartbeat(node)
        expect(hb).toMatchObject({ nodeId: node, gridId: "default", state: "idle", capacity: 1 })
        expect(hb!.runners).toContain("process")
        expect(hb!.tools).toContain("command")
        yield* client.send(node, {
          kind: "start",
          testId: "ok-1",
          tool: "command",
          labels: { team: "perf" },
          files: [{ path: "data/in.txt", content: "hello" }, { path: "run.sh", content: "test \"$(cat data/in.txt)\" = hello", mode: 0o755 }],
          params: { command: ["./run.sh"] }
        })
        const done = yield* client.terminalOf("ok-1")
        expect(yield* kinds("ok-1")).toEqual(["accepted", "started", "finished"])
        expect(done).toMatchObject({ kind: "finished", exitCode: 0, labels: { team: "perf" }, nodeId: node })
        yield* expectClean("ok-1", done)
      }))

    it.effect("reports busy while at capacity, and the heartbeat says busy", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, { kind: "start", testId: "busy-a", tool: "command", params: sh("sleep 30") })
        yield* client.waitEvent("busy-a", "started")
        yield* waitUntil("busy heartbeat", Effect.map(client.heartbeat(node), (hb) => hb?.state === "busy"))
        expect((yield* client.heartbeat(node))!.tests).toEqual(["busy-a"])
        yield* client.send(node, { kind: "start", testId: "busy-b", tool: "command", params: sh("true") })
        const r = yield* client.waitEvent("busy-b", "rejected")
        expect(r.code).toBe("busy")
        yield* client.send(node, { kind: "stop", testId: "busy-a", reason: "enough" })
        const stopped = yield* client.terminalOf("busy-a")
        expect(stopped).toMatchObject({ kind: "stopped", reason: "enough" })
        yield* expectClean("busy-a", stopped)
      }))

    it.effect("kills a tool that ignores SIGTERM after the grace, with its whole process group", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, {
          kind: "start",
          testId: "stubborn",
          tool: "command",
          params: sh("trap '' TERM; sleep 60 & trap '' TERM; while true; do sleep 0.1; done")
        })
        yield* client.waitEvent("stubborn", "started")
        const t0 = Date.now()
        yield* client.send(node, { kind: "stop", testId: "stubborn", graceSeconds: 1 })
        const stopped = yield* client.terminalOf("stubborn")
        expect(Date.now() - t0).toBeGreaterThanOrEqual(1000)
        expect(stopped.kind).toBe("stopped")
        yield* expectClean("stubborn", stopped)
      }))

    it.effect("fails a crashing tool with its exit code and last output", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, { kind: "start", testId: "crash", tool: "command", params: sh("echo going down >&2; exit 3") })
        const failed = yield* client.terminalOf("crash")
        expect(failed.kind).toBe("failed")
        expect(errorOf(failed)).toMatchObject({ code: "tool_failed" })
        expect(errorOf(failed)!.message).toContain("exited with code 3")
        expect(errorOf(failed)!.message).toContain("going down")
        yield* expectClean("crash", failed)
      }))

    it.effect("fails a tool that cannot start", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, { kind: "start", testId: "nobin", tool: "command", params: { command: ["/nonexistent/tool"] } })
        const failed = yield* client.terminalOf("nobin")
        expect(errorOf(failed)).toMatchObject({ code: "launch_failed" })
        expect(yield* kinds("nobin")).toEqual(["accepted", "failed"])
        yield* expectClean("nobin", failed)
      }))

    it.effect("enforces limits.maxDurationSeconds", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, { kind: "start", testId: "long", tool: "command", limits: { maxDurationSeconds: 1 }, params: sh("sleep 60") })
        const failed = yield* client.terminalOf("long")
        expect(errorOf(failed)).toMatchObject({ code: "max_duration" })
        yield* expectClean("long", failed)
      }))

    it.effect("rejects malformed, oversized and schema-invalid commands with a code, and keeps running", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.sendRaw(node, "{not json")
        yield* client.sendRaw(node, JSON.stringify({ kind: "start", commandId: "big", testId: "big", tool: "command", files: [{ path: "x", content: "y".repeat(70 * 1024) }] }))
        yield* client.sendRaw(node, JSON.stringify({ kind: "start", commandId: "bad-id", testId: "no spaces allowed", tool: "command" }))
        yield* client.send(node, { kind: "start", testId: "bad-limits", tool: "command", limits: { cpus: -1 }, params: sh("true") })
        yield* client.send(node, { kind: "launch-rockets", testId: "weird" })
        yield* client.send(node, { kind: "start", testId: "tool-x", tool: "nonsense" })
        yield* client.send(node, { kind: "start", testId: "no-argv", tool: "command", params: {} })
        const anon = yield* waitUntil(
          "3 anonymous rejections",
          Effect.map(client.eventsOf(undefined), (all) => {
            const r = all.filter(isRejected)
            return r.length >= 3 ? r : undefined
          })
        )
        expect(anon.map((e) => e.code)).toEqual(["invalid_command", "invalid_command", "invalid_command"])
        expect(anon[1]!.message).toContain("more than the node's limit")
        expect(anon[2]!.message).toContain("testId")
        expect((yield* client.waitEvent("bad-limits", "rejected")).code).toBe("invalid_command")
        expect((yield* client.waitEvent("weird", "rejected")).code).toBe("invalid_command")
        expect((yield* client.waitEvent("tool-x", "rejected")).code).toBe("unsupported_tool")
        expect((yield* client.waitEvent("no-argv", "rejected")).message).toContain("params.command")
        // Still alive and working.
        yield* client.send(node, { kind: "start", testId: "after-bad", tool: "command", params: sh("true") })
        expect((yield* client.terminalOf("after-bad")).kind).toBe("finished")
        // Every event the node sent reads through the protocol's schemas.
        expect(yield* client.undecodable).toEqual([])
      }))

    it.effect("rejects files that escape the work directory, leaving nothing behind", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const { settings } = yield* TestDaemon
        for (const [testId, p] of [["esc-dots", "a/../../x"], ["esc-abs", "/etc/evil"]] as const) {
          yield* client.send(node, { kind: "start", testId, tool: "command", files: [{ path: p, content: "x" }], params: sh("true") })
          const r = yield* client.waitEvent(testId, "rejected")
          expect(r.code).toBe("invalid_command")
          expect(yield* kinds(testId)).toEqual(["rejected"])
          expect(r.message).toMatch(/escapes|absolute/)
          expect(fs.existsSync(path.join(settings.workDir, node, testId))).toBe(false)
        }
        // Corrected, the same test id is welcome: a refused start did not run.
        yield* client.send(node, { kind: "start", testId: "esc-dots", tool: "command", files: [{ path: "a/x", content: "x" }], params: sh("test -f a/x") })
        expect((yield* client.terminalOf("esc-dots")).kind).toBe("finished")
        // A second file through a directory named like the first file is refused too.
        yield* client.send(node, { kind: "start", testId: "esc-dup", tool: "command", files: [{ path: "a", content: "1" }, { path: "a", content: "2" }], params: sh("true") })
        expect((yield* client.waitEvent("esc-dup", "rejected")).code).toBe("invalid_command")
      }))

    it.effect("never starts a test twice: redelivered commands and reused test ids", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const command = { kind: "start", commandId: "dup-cmd", testId: "dup", tool: "command", params: sh("true") }
        // Published twice with different Nats-Msg-Id: JetStream stores both, the node acts once.
        yield* client.sendRaw(node, JSON.stringify(command))
        yield* client.sendRaw(node, JSON.stringify(command))
        yield* client.terminalOf("dup")
        yield* client.send(node, { kind: "start", testId: "dup", tool: "command", params: sh("true") })
        const r = yield* client.waitEvent("dup", "rejected")
        expect(r.code).toBe("duplicate_test")
        expect((yield* kinds("dup")).filter((k) => k === "accepted")).toHaveLength(1)
      }))

    it.effect("rejects expired commands and stops/gos for unknown tests", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, { kind: "start", testId: "old", tool: "command", notAfter: new Date(Date.now() - 1000).toISOString(), params: sh("true") })
        expect((yield* client.waitEvent("old", "rejected")).code).toBe("expired")
        yield* client.send(node, { kind: "stop", testId: "ghost" })
        expect((yield* client.waitEvent("ghost", "rejected")).code).toBe("unknown_test")
        yield* client.send(node, { kind: "go", testId: "ghost2" })
        expect((yield* client.waitEvent("ghost2", "rejected")).code).toBe("unknown_test")
      }))

    it.effect("holds a barrier test until go, and fails it with barrier_timeout when none comes", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, { kind: "start", testId: "bar-1", tool: "command", barrier: true, params: sh("true") })
        yield* client.waitEvent("bar-1", "ready")
        yield* Effect.sleep("300 millis")
        expect(yield* kinds("bar-1")).toEqual(["accepted", "ready"])
        yield* client.send(node, { kind: "go", testId: "bar-1" })
        expect((yield* client.terminalOf("bar-1")).kind).toBe("finished")
        expect(yield* kinds("bar-1")).toEqual(["accepted", "ready", "started", "finished"])

        yield* client.send(node, { kind: "start", testId: "bar-2", tool: "command", barrier: true, limits: { maxDurationSeconds: 1 }, params: sh("true") })
        const failed = yield* client.terminalOf("bar-2")
        expect(errorOf(failed)).toMatchObject({ code: "barrier_timeout" })
        expect(yield* kinds("bar-2")).toEqual(["accepted", "ready", "failed"])
      }))

    it.effect("starts by the clock at startAt", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const startAt = Date.now() + 1500
        yield* client.send(node, { kind: "start", testId: "clock", tool: "command", startAt: new Date(startAt).toISOString(), params: sh("true") })
        const started = yield* client.waitEvent("clock", "started")
        expect(Date.parse(started.at)).toBeGreaterThanOrEqual(startAt)
        yield* client.terminalOf("clock")
      }))
  })
})
