// The docker runner through the daemon, and the orphan sweep after a SIGKILLed daemon: a
// container and a tool process it left behind are removed when it comes back, with their
// work directories.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildBusyboxImage, containersWithLabel, removeImage } from "./fixtures/docker/busyboxImage.ts"
import { alive, spawnDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient
let image: string

beforeAll(async () => {
  image = buildBusyboxImage()
  nats = await startNatsServer()
  client = await gridClient(nats.url)
})
afterAll(async () => {
  await client?.close()
  await nats?.close()
  if (image) removeImage(image)
})

const terminalOf = (testId: string) =>
  waitUntil(`terminal event of ${testId}`, () => client.eventsOf(testId).find((e) => ["finished", "failed", "stopped"].includes(e.kind)), 60_000)
const launch = async (nodeId: string, workDir: string) => {
  const d = spawnDaemon(["--nats-url", nats.url, "--node-id", nodeId, "--work-dir", workDir, "--heartbeat-interval", "500ms", "--stop-grace", "2s"])
  await Promise.race([
    waitUntil(`heartbeat of ${nodeId}`, async () => {
      const hb = await client.heartbeat(nodeId)
      return hb && (hb.runners as Array<string>).includes("docker") ? hb : undefined
    }),
    d.exited.then((code) => {
      throw new Error(`daemon exited ${code}: ${d.output()}`)
    })
  ])
  return d
}

describe("docker runner through the daemon", () => {
  it("runs a container test with the work directory mounted, and removes the container", async () => {
    const workDir = tempWorkRoot()
    const d = await launch("dock-1", workDir)
    try {
      await client.send("dock-1", {
        kind: "start",
        testId: "dock-a",
        tool: "command",
        runner: "docker",
        image,
        files: [{ path: "in.txt", content: "from the node" }],
        params: { command: ["sh", "-c", "test \"$(cat /grid/work/in.txt)\" = 'from the node' && echo ok > /grid/work/out.txt"] }
      })
      const done = await terminalOf("dock-a")
      expect(done).toMatchObject({ kind: "finished", exitCode: 0, cleanup: { ok: true } })
      const started = client.eventsOf("dock-a").find((e) => e.kind === "started")!
      expect(typeof started.containerId).toBe("string")
      expect((done.cleanup as { removed: Array<string> }).removed).toContain(`container ${started.containerId}`)
      expect(containersWithLabel("grid.test=dock-a")).toEqual([])
      expect(fs.existsSync(path.join(workDir, "dock-1", "dock-a"))).toBe(false)

      await client.send("dock-1", { kind: "start", testId: "dock-b", tool: "command", runner: "docker", image: "grid-no-such-image:1", params: { command: ["true"] } })
      const failed = await terminalOf("dock-b")
      expect(failed.kind).toBe("failed")
      expect((failed.error as { code: string }).code).toBe("image_missing")
    } finally {
      d.child.kill("SIGTERM")
      await d.exited
    }
  })

  it("sweeps the container, process and work directories a SIGKILLed daemon left", async () => {
    const workDir = tempWorkRoot()
    const first = await launch("dock-kill", workDir)
    await client.send("dock-kill", { kind: "start", testId: "left-c", tool: "command", runner: "docker", image, params: { command: ["sleep", "300"] } })
    await client.waitEvent("left-c", "started")
    first.child.kill("SIGKILL")
    await first.exited
    expect(containersWithLabel("grid.test=left-c")).toHaveLength(1)
    expect(fs.existsSync(path.join(workDir, "dock-kill", "left-c"))).toBe(true)

    // A process-runner tool orphaned the same way.
    const second = await launch("dock-kill", workDir)
    await client.send("dock-kill", { kind: "start", testId: "left-p", tool: "command", params: { command: ["sh", "-c", "sleep 300 & wait"] } })
    const started = await client.waitEvent("left-p", "started")
    expect(containersWithLabel("grid.test=left-c")).toEqual([])
    second.child.kill("SIGKILL")
    await second.exited
    expect(alive(-(started.pid as number))).toBe(true)

    const third = await launch("dock-kill", workDir)
    try {
      await waitUntil("orphan process gone", () => (alive(-(started.pid as number)) ? undefined : true))
      // Only the node's own dot-files (journal, marker) are left: no test directory.
      expect(fs.readdirSync(path.join(workDir, "dock-kill")).filter((n) => !n.startsWith("."))).toEqual([])
      expect(third.output()).toContain("removed leftover")
    } finally {
      third.child.kill("SIGTERM")
      await third.exited
    }
  })
})
