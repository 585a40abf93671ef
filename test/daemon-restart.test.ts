// A node that comes back after a crash: the tests its earlier life had accepted get exactly
// one terminal event (`failed`, `node_restarted`, with the sweep's cleanup), from the journal
// it keeps in its work dir; a corrupt journal entry is dropped without hurting the node. And
// the orphan sweep of one node never removes another node's directories, even when one work
// root lies inside the other. A controller treats a node whose heartbeats stop listing a test
// it accepted as having lost it.
import { jetstream } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { Effect, type Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Controller } from "../src/controller/Controller.ts"
import { decodePlan } from "../src/controller/Plan.ts"
import { assets } from "../src/protocol/names.ts"
import { alive, type DaemonProcess, spawnDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

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

const terminalKinds = ["finished", "failed", "stopped"]
const terminalsOf = (testId: string) => client.eventsOf(testId).filter((e) => terminalKinds.includes(e.kind))

const launch = async (nodeId: string, workDir: string) => {
  const d = spawnDaemon(["--nats-url", nats.url, "--node-id", nodeId, "--work-dir", workDir, "--heartbeat-interval", "500ms", "--stop-grace", "2s"])
  await Promise.race([
    waitUntil(`heartbeat of ${nodeId}`, () => client.heartbeat(nodeId)),
    d.exited.then((code) => {
      throw new Error(`daemon exited ${code}: ${d.output()}`)
    })
  ])
  return d
}
const stop = async (d: DaemonProcess) => {
  if (d.child.exitCode === null) d.child.kill("SIGTERM")
  await d.exited
}

describe("a node restarted after a crash", () => {
  it("publishes exactly one failed/node_restarted for the test its earlier life ran, after removing its process group", async () => {
    const workDir = tempWorkRoot()
    const first = await launch("rs-node", workDir)
    await client.send("rs-node", { kind: "start", testId: "rs-lost", tool: "command", params: { command: ["sleep", "120"] }, labels: { team: "perf" } })
    const started = await client.waitEvent("rs-lost", "started")
    const pgid = started.pid as number
    first.child.kill("SIGKILL")
    await first.exited
    expect(alive(-pgid)).toBe(true)
    // A journal entry that is not one (a disk error, a hand edit) must not stop the node.
    const journal = path.join(workDir, "rs-node", ".grid-journal")
    fs.mkdirSync(journal, { recursive: true })
    fs.writeFileSync(path.join(journal, "rs-garbage.json"), "{not json")

    const second = await launch("rs-node", workDir)
    try {
      const failed = await waitUntil("terminal event of rs-lost", () => terminalsOf("rs-lost")[0])
      expect(failed).toMatchObject({ kind: "failed", nodeId: "rs-node", error: { code: "node_restarted" }, labels: { team: "perf" }, summary: null })
      const cleanup = failed.cleanup as { ok: boolean; removed: Array<string>; errors: Array<string> }
      expect(cleanup.removed).toContain(`process group ${pgid} (test rs-lost)`)
      expect(cleanup.removed.some((r) => r.startsWith("workdir ") && r.endsWith("/rs-lost"))).toBe(true)
      // SIGKILLed by the sweep before the event; its zombies wait for a slow PID 1 to reap them.
      await waitUntil("the orphaned process group gone", () => !alive(-pgid) || undefined)
      expect(fs.readdirSync(journal)).toEqual([])
      expect(second.output()).toContain("rs-garbage.json")
      // The start again (as if redelivered: the killed life may not have acked it): not run twice.
      await client.send("rs-node", { kind: "start", testId: "rs-lost", tool: "command", params: { command: ["sleep", "120"] } })
      expect((await client.waitEvent("rs-lost", "rejected")).code).toBe("duplicate_test")
      expect(client.eventsOf("rs-lost").filter((e) => e.kind === "accepted")).toHaveLength(1)
      // A heartbeat later, still exactly one terminal event; and the node works.
      await client.send("rs-node", { kind: "start", testId: "rs-after", tool: "command", params: { command: ["true"] } })
      await waitUntil("terminal event of rs-after", () => terminalsOf("rs-after")[0])
      expect(terminalsOf("rs-lost")).toHaveLength(1)
      expect(terminalsOf("rs-after")).toMatchObject([{ kind: "finished" }])
      expect(fs.readdirSync(journal)).toEqual([])
    } finally {
      await stop(second)
    }
  })
})

describe("the orphan sweep and nested work roots", () => {
  it("a node with --work-dir X --node-id work never removes the folders of a node with --work-dir X/work", async () => {
    const x = tempWorkRoot()
    // Node B's root is X/work/nodeb: inside node A's root X/work.
    const b = await launch("nodeb", path.join(x, "work"))
    let a: DaemonProcess | undefined
    try {
      await client.send("nodeb", { kind: "start", testId: "b-run", tool: "command", params: { command: ["sleep", "60"] } })
      const bStarted = await client.waitEvent("b-run", "started")
      const bDir = path.join(x, "work", "nodeb", "b-run")
      expect(fs.existsSync(bDir)).toBe(true)
      // Node A starts (its start-up sweep runs), runs a test of its own (its root is marked
      // now), stops, and starts again: a second sweep over X/work.
      a = await launch("work", x)
      await client.send("work", { kind: "start", testId: "a-run", tool: "command", params: { command: ["true"] } })
      await waitUntil("terminal event of a-run", () => terminalsOf("a-run")[0])
      await stop(a)
      a = await launch("work", x)
      expect(fs.existsSync(bDir)).toBe(true)
      expect(alive(-(bStarted.pid as number))).toBe(true)
      expect(a.output()).not.toContain("nodeb")
      // B's test is intact: it stops normally and B cleans up after itself.
      await client.send("nodeb", { kind: "stop", testId: "b-run" })
      expect(await waitUntil("terminal event of b-run", () => terminalsOf("b-run")[0])).toMatchObject({ kind: "stopped", cleanup: { ok: true } })
      expect(fs.existsSync(bDir)).toBe(false)
    } finally {
      if (a !== undefined) await stop(a)
      await stop(b)
    }
  })
})

describe("grid launch and a node that lost the test", () => {
  it("a node whose heartbeat stops listing the test it accepted is lost: the launch ends", async () => {
    // The node is played here, over the real NATS: it accepts the start, then keeps sending
    // heartbeats that no longer list the test (what a node restarted within the heartbeat TTL
    // looks like from outside when no terminal event reaches the controller).
    const nodeId = "forgetful"
    const testId = "forget-1"
    const kv = await new Kvm(client.nc).open(assets("grid").nodes)
    const now = () => new Date().toISOString()
    const heartbeat = (tests: Array<string>) =>
      JSON.stringify({
        nodeId, gridId: "default", version: "test", channel: "stable", labels: {}, state: tests.length > 0 ? "busy" : "idle",
        tests, capacity: 1, tools: ["command"], runners: ["process"],
        cpu: { cores: 1, load1: 0, usagePct: 0 }, memory: { totalMb: 1, freeMb: 1, rssMb: 1 }, disk: { workDir: "/tmp", freeMb: 1 },
        startedAt: now(), at: now()
      })
    await kv.put(nodeId, heartbeat([]))
    const js = jetstream(client.nc)
    const sub = client.nc.subscribe(`grid.control.node.${nodeId}`)
    let accepted = false
    void (async () => {
      for await (const m of sub) {
        const command = m.json<{ kind: string; commandId: string; testId: string }>()
        if (command.kind !== "start") continue
        await js.publish(`grid.events.${command.testId}.${nodeId}`, JSON.stringify({ kind: "accepted", testId: command.testId, nodeId, commandId: command.commandId, at: now(), runner: "process", tool: "command" }))
        await js.publish(`grid.events.${command.testId}.${nodeId}`, JSON.stringify({ kind: "started", testId: command.testId, nodeId, commandId: command.commandId, at: now(), pid: 1 }))
        accepted = true
      }
    })()
    const beat = setInterval(() => void kv.put(nodeId, heartbeat([])).catch(() => undefined), 200)
    try {
      const plan = await Effect.runPromise(decodePlan({ name: "forget", tool: "command", params: { command: ["sleep", "60"] } }, "inline plan"))
      const report = await Effect.runPromise(
        Effect.flatMap(Controller, (c) => c.launch(plan, { nodes: [nodeId] }, { testId, barrier: false, stopTimeout: "1 second", finalWait: "100 millis" })).pipe(
          Effect.flatMap((l) => l.await),
          Effect.timeout("20 seconds"),
          Effect.scoped,
          Effect.provide(Controller.layerNats({ url: nats.url }) as Layer.Layer<Controller>)
        )
      )
      expect(accepted).toBe(true)
      expect(report.outcome).toBe("failed")
      expect(report.nodes.map((n) => [n.nodeId, n.status])).toEqual([[nodeId, "lost"]])
      expect(report.problems.join()).toMatch(/no longer lists the test/)
    } finally {
      clearInterval(beat)
      sub.unsubscribe()
      await kv.delete(nodeId)
    }
  })
})
