// The daemon core end to end, in-process (GridDaemon.layer) against a real nats-server and
// real processes: every event of the protocol, bad input, capacity, duplicates, barrier,
// limits, drain; after each test no process and no work directory survive.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { alive, type InProcessDaemon, startDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil, type WireEvent } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient
let daemon: InProcessDaemon
const node = "core-1"

beforeAll(async () => {
  nats = await startNatsServer()
  client = await gridClient(nats.url)
  daemon = await startDaemon(client, { natsUrl: nats.url, nodeId: node, capacity: 1, maxCommandBytes: 64 * 1024 })
})

afterAll(async () => {
  await daemon?.stop()
  await client?.close()
  await nats?.close()
})

const workRoot = () => path.join(daemon.settings.workDir, node)
const sh = (script: string) => ({ command: ["sh", "-c", script] })
const kinds = (testId: string) => client.eventsOf(testId).map((e) => e.kind)
const expectClean = async (testId: string, terminal: WireEvent) => {
  expect(fs.existsSync(path.join(workRoot(), testId))).toBe(false)
  const started = client.eventsOf(testId).find((e) => e.kind === "started")
  if (started) expect(alive(-(started.pid as number))).toBe(false)
  const cleanup = terminal.cleanup as { ok: boolean; removed: Array<string>; errors: Array<string> }
  expect(cleanup.ok).toBe(true)
  expect(cleanup.errors).toEqual([])
  expect(cleanup.removed.some((r) => r.startsWith("workdir"))).toBe(true)
}
const terminalOf = (testId: string) =>
  waitUntil(`terminal event of ${testId}`, () => client.eventsOf(testId).find((e) => ["finished", "failed", "stopped"].includes(e.kind)))

describe("grid daemon core", () => {
  it("runs a command test: accepted, started, finished, after cleanup, and advertises itself", async () => {
    const hb = await client.heartbeat(node)
    expect(hb).toMatchObject({ nodeId: node, gridId: "default", state: "idle", capacity: 1 })
    expect(hb!.runners).toContain("process")
    expect(hb!.tools).toContain("command")
    await client.send(node, {
      kind: "start",
      testId: "ok-1",
      tool: "command",
      labels: { team: "perf" },
      files: [{ path: "data/in.txt", content: "hello" }, { path: "run.sh", content: "test \"$(cat data/in.txt)\" = hello", mode: 0o755 }],
      params: { command: ["./run.sh"] }
    })
    const done = await terminalOf("ok-1")
    expect(kinds("ok-1")).toEqual(["accepted", "started", "finished"])
    expect(done).toMatchObject({ kind: "finished", exitCode: 0, labels: { team: "perf" }, nodeId: node })
    await expectClean("ok-1", done)
  })

  it("reports busy while at capacity, and the heartbeat says busy", async () => {
    await client.send(node, { kind: "start", testId: "busy-a", tool: "command", params: sh("sleep 30") })
    await client.waitEvent("busy-a", "started")
    await waitUntil("busy heartbeat", async () => ((await client.heartbeat(node))?.state === "busy" ? true : undefined))
    expect((await client.heartbeat(node))!.tests).toEqual(["busy-a"])
    await client.send(node, { kind: "start", testId: "busy-b", tool: "command", params: sh("true") })
    const r = await client.waitEvent("busy-b", "rejected")
    expect(r.code).toBe("busy")
    await client.send(node, { kind: "stop", testId: "busy-a", reason: "enough" })
    const stopped = await terminalOf("busy-a")
    expect(stopped).toMatchObject({ kind: "stopped", reason: "enough" })
    await expectClean("busy-a", stopped)
  })

  it("kills a tool that ignores SIGTERM after the grace, with its whole process group", async () => {
    await client.send(node, {
      kind: "start",
      testId: "stubborn",
      tool: "command",
      params: sh("trap '' TERM; sleep 60 & trap '' TERM; while true; do sleep 0.1; done")
    })
    await client.waitEvent("stubborn", "started")
    const t0 = Date.now()
    await client.send(node, { kind: "stop", testId: "stubborn", graceSeconds: 1 })
    const stopped = await terminalOf("stubborn")
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000)
    expect(stopped.kind).toBe("stopped")
    await expectClean("stubborn", stopped)
  })

  it("fails a crashing tool with its exit code and last output", async () => {
    await client.send(node, { kind: "start", testId: "crash", tool: "command", params: sh("echo going down >&2; exit 3") })
    const failed = await terminalOf("crash")
    expect(failed.kind).toBe("failed")
    expect(failed.error).toMatchObject({ code: "tool_failed" })
    expect((failed.error as { message: string }).message).toContain("exited with code 3")
    expect((failed.error as { message: string }).message).toContain("going down")
    await expectClean("crash", failed)
  })

  it("fails a tool that cannot start", async () => {
    await client.send(node, { kind: "start", testId: "nobin", tool: "command", params: { command: ["/nonexistent/tool"] } })
    const failed = await terminalOf("nobin")
    expect(failed.error).toMatchObject({ code: "launch_failed" })
    expect(kinds("nobin")).toEqual(["accepted", "failed"])
    await expectClean("nobin", failed)
  })

  it("enforces limits.maxDurationSeconds", async () => {
    await client.send(node, { kind: "start", testId: "long", tool: "command", limits: { maxDurationSeconds: 1 }, params: sh("sleep 60") })
    const failed = await terminalOf("long")
    expect(failed.error).toMatchObject({ code: "max_duration" })
    await expectClean("long", failed)
  })

  it("rejects malformed, oversized and schema-invalid commands with a code, and keeps running", async () => {
    await client.sendRaw(node, "{not json")
    await client.sendRaw(node, JSON.stringify({ kind: "start", commandId: "big", testId: "big", tool: "command", files: [{ path: "x", content: "y".repeat(70 * 1024) }] }))
    await client.sendRaw(node, JSON.stringify({ kind: "start", commandId: "bad-id", testId: "no spaces allowed", tool: "command" }))
    await client.send(node, { kind: "start", testId: "bad-limits", tool: "command", limits: { cpus: -1 }, params: sh("true") })
    await client.send(node, { kind: "launch-rockets", testId: "weird" })
    await client.send(node, { kind: "start", testId: "tool-x", tool: "nonsense" })
    await client.send(node, { kind: "start", testId: "no-argv", tool: "command", params: {} })
    const anon = await waitUntil("3 anonymous rejections", () => {
      const r = client.eventsOf(undefined).filter((e) => e.kind === "rejected")
      return r.length >= 3 ? r : undefined
    })
    expect(anon.map((e) => e.code)).toEqual(["invalid_command", "invalid_command", "invalid_command"])
    expect(anon[1]!.message).toContain("more than the node's limit")
    expect(anon[2]!.message).toContain("testId")
    expect((await client.waitEvent("bad-limits", "rejected")).code).toBe("invalid_command")
    expect((await client.waitEvent("weird", "rejected")).code).toBe("invalid_command")
    expect((await client.waitEvent("tool-x", "rejected")).code).toBe("unsupported_tool")
    expect((await client.waitEvent("no-argv", "rejected")).message).toContain("params.command")
    // Still alive and working.
    await client.send(node, { kind: "start", testId: "after-bad", tool: "command", params: sh("true") })
    expect((await terminalOf("after-bad")).kind).toBe("finished")
  })

  it("rejects files that escape the work directory, leaving nothing behind", async () => {
    for (const [testId, p] of [["esc-dots", "a/../../x"], ["esc-abs", "/etc/evil"]] as const) {
      await client.send(node, { kind: "start", testId, tool: "command", files: [{ path: p, content: "x" }], params: sh("true") })
      const r = await client.waitEvent(testId, "rejected")
      expect(r.code).toBe("invalid_command")
      expect(kinds(testId)).toEqual(["rejected"])
      expect(r.message).toMatch(/escapes|absolute/)
      expect(fs.existsSync(path.join(workRoot(), testId))).toBe(false)
    }
    // Corrected, the same test id is welcome: a refused start did not run.
    await client.send(node, { kind: "start", testId: "esc-dots", tool: "command", files: [{ path: "a/x", content: "x" }], params: sh("test -f a/x") })
    expect((await terminalOf("esc-dots")).kind).toBe("finished")
    // A second file through a directory named like the first file is refused too.
    await client.send(node, { kind: "start", testId: "esc-dup", tool: "command", files: [{ path: "a", content: "1" }, { path: "a", content: "2" }], params: sh("true") })
    expect((await client.waitEvent("esc-dup", "rejected")).code).toBe("invalid_command")
  })

  it("never starts a test twice: redelivered commands and reused test ids", async () => {
    const command = { kind: "start", commandId: "dup-cmd", testId: "dup", tool: "command", params: sh("true") }
    // Published twice with different Nats-Msg-Id: JetStream stores both, the node acts once.
    await client.sendRaw(node, JSON.stringify(command))
    await client.sendRaw(node, JSON.stringify(command))
    await terminalOf("dup")
    await client.send(node, { kind: "start", testId: "dup", tool: "command", params: sh("true") })
    const r = await waitUntil("duplicate rejection", () => client.eventsOf("dup").find((e) => e.kind === "rejected"))
    expect(r.code).toBe("duplicate_test")
    expect(kinds("dup").filter((k) => k === "accepted")).toHaveLength(1)
  })

  it("rejects expired commands and stops/gos for unknown tests", async () => {
    await client.send(node, { kind: "start", testId: "old", tool: "command", notAfter: new Date(Date.now() - 1000).toISOString(), params: sh("true") })
    expect((await client.waitEvent("old", "rejected")).code).toBe("expired")
    await client.send(node, { kind: "stop", testId: "ghost" })
    expect((await client.waitEvent("ghost", "rejected")).code).toBe("unknown_test")
    await client.send(node, { kind: "go", testId: "ghost2" })
    expect((await client.waitEvent("ghost2", "rejected")).code).toBe("unknown_test")
  })

  it("holds a barrier test until go, and fails it with barrier_timeout when none comes", async () => {
    await client.send(node, { kind: "start", testId: "bar-1", tool: "command", barrier: true, params: sh("true") })
    await client.waitEvent("bar-1", "ready")
    await new Promise((r) => setTimeout(r, 300))
    expect(kinds("bar-1")).toEqual(["accepted", "ready"])
    await client.send(node, { kind: "go", testId: "bar-1" })
    expect((await terminalOf("bar-1")).kind).toBe("finished")
    expect(kinds("bar-1")).toEqual(["accepted", "ready", "started", "finished"])

    await client.send(node, { kind: "start", testId: "bar-2", tool: "command", barrier: true, limits: { maxDurationSeconds: 1 }, params: sh("true") })
    const failed = await terminalOf("bar-2")
    expect(failed.error).toMatchObject({ code: "barrier_timeout" })
    expect(kinds("bar-2")).toEqual(["accepted", "ready", "failed"])
  })

  it("starts by the clock at startAt", async () => {
    const startAt = Date.now() + 1500
    await client.send(node, { kind: "start", testId: "clock", tool: "command", startAt: new Date(startAt).toISOString(), params: sh("true") })
    const started = await client.waitEvent("clock", "started")
    expect(Date.parse(started.at)).toBeGreaterThanOrEqual(startAt)
    await terminalOf("clock")
  })
})
