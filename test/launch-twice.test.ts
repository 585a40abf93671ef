// Back-to-back launches on the same node (issue 12, item 1): a CI pipeline runs two load tests
// in a row. The node publishes its heartbeat at once when its test ends (not a heartbeat
// interval later), and `grid launch` waits for selected nodes still busy, up to --wait-idle,
// saying what it waits for. A real daemon with a long heartbeat interval, on a real nats-server,
// driven by real `grid launch` processes.
import { Duration, Effect, Exit, Scope } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { gridMain, type InProcessDaemon, nodeBin, startDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient
let daemon: InProcessDaemon
let target: RunningTarget
const targetScope = Effect.runSync(Scope.make())
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-twice-"))

beforeAll(async () => {
  nats = await startNatsServer()
  client = await gridClient(nats.url)
  target = await Effect.runPromise(
    Scope.provide(targetScope)(serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: {} }))
  )
  // A heartbeat interval longer than the gap between two launches: only a heartbeat on the
  // state change can show the node idle in time.
  daemon = await startDaemon(client, { natsUrl: nats.url, nodeId: "twice-1", heartbeatInterval: Duration.seconds(6) })
}, 30_000)
afterAll(async () => {
  await daemon?.stop()
  await Effect.runPromise(Scope.close(targetScope, Exit.void))
  await client?.close()
  await nats?.close()
  fs.rmSync(dir, { recursive: true, force: true })
}, 30_000)

const plan = (name: string, durationSeconds: number): string => {
  const file = path.join(dir, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify({
    name,
    tool: "builtin",
    scenario: { target: target.url, requests: [{ name: "home", path: "/" }], load: { model: "open", rate: 20, durationSeconds } }
  }))
  return file
}

const launch = (args: Array<string>): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve) => {
    const child = spawn(nodeBin, [gridMain, "launch", ...args, "--nats-url", nats.url, "--nodes", "twice-1"], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout!.on("data", (d) => (out += d))
    child.stderr!.on("data", (d) => (out += d))
    child.on("close", (code) => resolve({ code, out }))
  })

describe("back-to-back launches on the same node", () => {
  it("the second launch, started right after the first ended, passes too", async () => {
    // Longer than a heartbeat interval: a heartbeat during the run says busy.
    const first = await launch([plan("first", 7)])
    expect(first.out).not.toContain("not idle")
    expect(first.code).toBe(0)
    const second = await launch([plan("second", 1)])
    expect(second.out).not.toContain("not idle")
    expect(second.code).toBe(0)
    expect(second.out).toMatch(/TOTAL\s+\d+/)
  }, 60_000)

  it("the heartbeat says idle as soon as the test ended, not a heartbeat interval later", async () => {
    await waitUntil("idle", async () => (await client.heartbeat("twice-1"))?.state === "idle" || undefined)
    const r = await launch([plan("beat", 1)])
    expect(r.code).toBe(0)
    const finishedAt = Date.parse(client.eventsOf(r.out.match(/test (beat-[\w-]+)/)![1]!).find((e) => e.kind === "finished")!.at)
    const hb = await client.heartbeat("twice-1")
    expect(hb?.state).toBe("idle")
    // Published on the change: within a fraction of the 6 s interval after the finished event.
    expect(Date.parse(hb!.at as string) - finishedAt).toBeLessThan(1500)
  }, 60_000)

  it("a launch while the node is busy waits for it, saying so; with --wait-idle 0 it refuses at once", async () => {
    // Long enough that the two launches below, slow to start on a loaded machine, still find it running.
    const long = launch([plan("long", 8)])
    await waitUntil("busy", async () => (await client.heartbeat("twice-1"))?.state === "busy" || undefined)
    const refused = await launch([plan("refused", 1), "--wait-idle", "0"])
    expect(refused.code).toBe(1)
    expect(refused.out).toMatch(/not idle: twice-1 \(busy: long-/)
    const waited = await launch([plan("waited", 1), "--wait-idle", "30s"])
    expect(waited.out).toMatch(/waiting up to 30 s for twice-1 \(busy: long-[\w-]+\) to become idle/)
    expect(waited.code).toBe(0)
    expect((await long).code).toBe(0)
  }, 60_000)
})
