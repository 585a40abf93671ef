// `grid daemon` as a real process: signals, exit codes, NATS outages and restarts, commands
// sent while the node was down, and authentication failures. Each case asserts that nothing
// it started (process, work directory, heartbeat) survives.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { alive, type DaemonProcess, spawnDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"
import { spawn } from "node:child_process"
import { natsServerBinary, freePort } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient

beforeAll(async () => {
  nats = await startNatsServer()
  client = await gridClient(nats.url)
})
afterAll(async () => {
  await client?.close()
  await nats?.close()
})

const sh = (script: string) => ({ command: ["sh", "-c", script] })
const terminalOf = (testId: string, timeoutMs?: number) =>
  waitUntil(`terminal event of ${testId}`, () => client.eventsOf(testId).find((e) => ["finished", "failed", "stopped"].includes(e.kind)), timeoutMs)

const launch = async (nodeId: string, extra: Array<string> = []) => {
  const workDir = tempWorkRoot()
  const d = spawnDaemon(["--nats-url", nats.url, "--node-id", nodeId, "--work-dir", workDir, "--heartbeat-interval", "500ms", ...extra])
  await Promise.race([
    waitUntil(`heartbeat of ${nodeId}`, () => client.heartbeat(nodeId)),
    d.exited.then((code) => {
      throw new Error(`daemon exited ${code}: ${d.output()}`)
    })
  ])
  return { d, workDir }
}
const ensureDead = async (d: DaemonProcess) => {
  if (d.child.exitCode === null) d.child.kill("SIGKILL")
  await d.exited
}

describe("grid daemon process", () => {
  it("SIGTERM during a test: stopped event after cleanup, heartbeat deleted, exit 0", async () => {
    const { d, workDir } = await launch("proc-term", ["--stop-grace", "5s"])
    try {
      await client.send("proc-term", { kind: "start", testId: "term-1", tool: "command", params: sh("sleep 60 & wait") })
      const started = await client.waitEvent("term-1", "started")
      d.child.kill("SIGTERM")
      expect(await d.exited).toBe(0)
      const stopped = await terminalOf("term-1")
      expect(stopped).toMatchObject({ kind: "stopped", reason: "daemon shutdown", cleanup: { ok: true } })
      expect(alive(-(started.pid as number))).toBe(false)
      // Only the node's own dot-files (journal, marker) are left: no test directory.
      expect(fs.readdirSync(path.join(workDir, "proc-term")).filter((n) => !n.startsWith("."))).toEqual([])
      expect(await client.heartbeat("proc-term")).toBeUndefined()
    } finally {
      await ensureDead(d)
    }
  })

  it("a second SIGTERM skips the grace of a tool that ignores the first", async () => {
    const { d } = await launch("proc-force", ["--stop-grace", "60s"])
    try {
      await client.send("proc-force", { kind: "start", testId: "force-1", tool: "command", params: sh("trap '' TERM; while true; do sleep 0.1; done") })
      const started = await client.waitEvent("force-1", "started")
      d.child.kill("SIGTERM")
      await new Promise((r) => setTimeout(r, 500))
      expect(d.child.exitCode).toBeNull()
      const t0 = Date.now()
      d.child.kill("SIGTERM")
      expect(await d.exited).toBe(0)
      expect(Date.now() - t0).toBeLessThan(30_000)
      expect((await terminalOf("force-1")).kind).toBe("stopped")
      expect(alive(-(started.pid as number))).toBe(false)
    } finally {
      await ensureDead(d)
    }
  })

  it("survives a NATS restart mid-test: the test keeps running and no event is lost", async () => {
    const { d } = await launch("proc-nats")
    try {
      await client.send("proc-nats", { kind: "start", testId: "outage-1", tool: "command", params: sh("sleep 3") })
      await client.waitEvent("outage-1", "started")
      await nats.kill()
      // The tool finishes while NATS is away: its terminal event must wait and then arrive.
      await new Promise((r) => setTimeout(r, 3500))
      await nats.start()
      const done = await terminalOf("outage-1", 30_000)
      expect(done.kind).toBe("finished")
      expect(client.eventsOf("outage-1").map((e) => e.kind)).toEqual(["accepted", "started", "finished"])
      // Commands keep flowing after the restart.
      await client.send("proc-nats", { kind: "start", testId: "outage-2", tool: "command", params: sh("true") })
      expect((await terminalOf("outage-2", 30_000)).kind).toBe("finished")
      expect(d.child.exitCode).toBeNull()
    } finally {
      d.child.kill("SIGTERM")
      await d.exited
    }
  })

  it("receives commands published while it was down, once", async () => {
    const first = await launch("proc-down")
    first.d.child.kill("SIGTERM")
    expect(await first.d.exited).toBe(0)
    await client.send("proc-down", { kind: "start", testId: "while-down", tool: "command", params: sh("true") })
    const { d } = await launch("proc-down")
    try {
      expect((await terminalOf("while-down")).kind).toBe("finished")
      expect(client.eventsOf("while-down").filter((e) => e.kind === "accepted")).toHaveLength(1)
    } finally {
      d.child.kill("SIGTERM")
      await d.exited
    }
  })

  it("drain: finishes the running test, refuses new ones, exits 0", async () => {
    const { d } = await launch("proc-drain")
    try {
      await client.send("proc-drain", { kind: "start", testId: "drain-1", tool: "command", params: sh("sleep 1") })
      await client.waitEvent("drain-1", "started")
      await client.send("proc-drain", { kind: "drain" })
      await client.send("proc-drain", { kind: "start", testId: "drain-2", tool: "command", params: sh("true") })
      expect((await client.waitEvent("drain-2", "rejected")).code).toBe("draining")
      expect(await d.exited).toBe(0)
      expect((await terminalOf("drain-1")).kind).toBe("finished")
    } finally {
      await ensureDead(d)
    }
  })

  it("flags and their GRID_* environment fallbacks reach the heartbeat", async () => {
    const workDir = tempWorkRoot()
    const d = spawnDaemon(
      ["--nats-url", nats.url, "--work-dir", workDir, "--heartbeat-interval", "500ms", "--label", "team=perf", "--label", "zone=a", "--capacity", "3"],
      { GRID_NODE_ID: "proc-env", GRID_CHANNEL: "beta", GRID_GRID_ID: "blue" }
    )
    try {
      const hb = await waitUntil("heartbeat of proc-env", () => client.heartbeat("proc-env"))
      expect(hb).toMatchObject({ nodeId: "proc-env", gridId: "blue", channel: "beta", capacity: 3, labels: { team: "perf", zone: "a" }, state: "idle" })
      expect(hb.disk).toMatchObject({ workDir })
    } finally {
      d.child.kill("SIGTERM")
      expect(await d.exited).toBe(0)
    }
  })

  it("refuses bad flags with a clear message and a non-zero exit", async () => {
    const d = spawnDaemon(["--nats-url", nats.url, "--node-id", "no spaces", "--work-dir", tempWorkRoot()])
    expect(await d.exited).not.toBe(0)
    expect(d.output()).toContain("--node-id")
  })

  it("a refused authentication is a clear fatal start-up error, not a retry loop", async () => {
    const port = await freePort()
    const store = tempWorkRoot()
    const server = spawn(natsServerBinary(), ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store, "--user", "grid", "--pass", "s3cret"], { stdio: "ignore" })
    try {
      await new Promise((r) => setTimeout(r, 500))
      const url = `nats://127.0.0.1:${port}`
      const bad = spawnDaemon(["--nats-url", url, "--node-id", "auth-1", "--nats-user", "grid"], { GRID_NATS_PASSWORD: "wrong-password" })
      const code = await bad.exited
      expect(code).not.toBe(0)
      expect(bad.output()).toMatch(/[Aa]uthorization/)
      expect(bad.output()).not.toContain("wrong-password")
      const good = spawnDaemon(["--nats-url", url, "--node-id", "auth-2", "--nats-user", "grid"], { GRID_NATS_PASSWORD: "s3cret" })
      await waitUntil("authenticated daemon up", () => (good.output().includes("up (grid") ? true : undefined))
      good.child.kill("SIGTERM")
      expect(await good.exited).toBe(0)
    } finally {
      server.kill("SIGKILL")
      fs.rmSync(store, { recursive: true, force: true })
    }
  })
})
