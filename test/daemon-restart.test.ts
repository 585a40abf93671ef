// A node that comes back after a crash: the tests its earlier life had accepted get exactly
// one terminal event (`failed`, `node_restarted`, with the sweep's cleanup), from the journal
// it keeps in its work dir; a corrupt journal entry is dropped without hurting the node. And
// the orphan sweep of one node never removes another node's directories, even when one work
// root lies inside the other. A controller treats a node whose heartbeats stop listing a test
// it accepted as having lost it.
import { jetstream } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { layer } from "@effect/vitest"
import { Effect, Layer, Schedule, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { Controller } from "../src/controller/Controller.ts"
import { decodePlan } from "../src/controller/Plan.ts"
import { assets } from "../src/protocol/names.ts"
import { alive } from "./support/daemon.ts"
import { launchDaemon } from "./support/daemonProcess.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const env = WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer()))

const terminalKinds = ["finished", "failed", "stopped"]
const terminalsOf = (testId: string) =>
  Effect.flatMap(WireClient, (c) => Effect.map(c.eventsOf(testId), (all) => all.filter((e) => terminalKinds.includes(e.kind))))
const firstTerminal = (testId: string) => waitUntil(`terminal event of ${testId}`, Effect.map(terminalsOf(testId), (t) => t[0]))

/** A real `grid daemon` process, up once its heartbeat is read; stopped with the scope. */
const launch = (nodeId: string, workDir: string) => launchDaemon(nodeId, { workDir, stopGrace: "2s" })

describe("nodes that restart", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("publishes exactly one failed/node_restarted for the test its earlier life ran, after removing its process group", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const workDir = tempWorkRoot()
        const first = yield* launch("rs-node", workDir)
        yield* client.send("rs-node", { kind: "start", testId: "rs-lost", tool: "command", params: { command: ["sleep", "120"] }, labels: { team: "perf" } })
        const started = yield* client.waitEvent("rs-lost", "started")
        const pgid = started.pid!
        first.child.kill("SIGKILL")
        yield* Effect.promise(() => first.exited)
        expect(alive(-pgid)).toBe(true)
        // A journal entry that is not one (a disk error, a hand edit) must not stop the node.
        const journal = path.join(workDir, "rs-node", ".grid-journal")
        fs.mkdirSync(journal, { recursive: true })
        fs.writeFileSync(path.join(journal, "rs-garbage.json"), "{not json")

        const second = yield* launch("rs-node", workDir)
        const failed = yield* firstTerminal("rs-lost")
        expect(failed).toMatchObject({ kind: "failed", nodeId: "rs-node", error: { code: "node_restarted" }, labels: { team: "perf" }, summary: null })
        if (failed.kind !== "failed") return
        expect(failed.cleanup.removed).toContain(`process group ${pgid} (test rs-lost)`)
        expect(failed.cleanup.removed.some((r) => r.startsWith("workdir ") && r.endsWith("/rs-lost"))).toBe(true)
        // SIGKILLed by the sweep before the event; its zombies wait for a slow PID 1 to reap them.
        yield* waitUntil("the orphaned process group gone", Effect.sync(() => !alive(-pgid)))
        expect(fs.readdirSync(journal)).toEqual([])
        expect(second.output()).toContain("rs-garbage.json")
        // The start again (as if redelivered: the killed life may not have acked it): not run twice.
        yield* client.send("rs-node", { kind: "start", testId: "rs-lost", tool: "command", params: { command: ["sleep", "120"] } })
        expect((yield* client.waitEvent("rs-lost", "rejected")).code).toBe("duplicate_test")
        expect((yield* client.eventsOf("rs-lost")).filter((e) => e.kind === "accepted")).toHaveLength(1)
        // A heartbeat later, still exactly one terminal event; and the node works.
        yield* client.send("rs-node", { kind: "start", testId: "rs-after", tool: "command", params: { command: ["true"] } })
        yield* firstTerminal("rs-after")
        expect(yield* terminalsOf("rs-lost")).toHaveLength(1)
        expect(yield* terminalsOf("rs-after")).toMatchObject([{ kind: "finished" }])
        // The entry goes once the terminal event is with the sink, which a reader can beat.
        yield* waitUntil("the journal empty", Effect.sync(() => fs.readdirSync(journal).length === 0))
      }))

    it.effect("a test that finished is not run again by the next life when its start is redelivered (its ack lost in a NATS crash)", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const workDir = tempWorkRoot()
        const first = yield* launch("rs-ended", workDir)
        const start = { kind: "start", testId: "rs-done", tool: "command", params: { command: ["true"] } } as const
        const commandId = yield* client.send("rs-ended", start)
        expect(yield* firstTerminal("rs-done")).toMatchObject({ kind: "finished" })
        first.child.kill("SIGKILL")
        yield* Effect.promise(() => first.exited)
        yield* launch("rs-ended", workDir)
        // The same command again, as JetStream redelivers a message whose ack it lost (sent
        // without a message id: the stream would drop a re-publish as a duplicate).
        yield* client.sendRaw("rs-ended", JSON.stringify({ ...start, commandId }))
        expect((yield* client.waitEvent("rs-done", "rejected")).code).toBe("duplicate_test")
        expect((yield* client.eventsOf("rs-done")).filter((e) => e.kind === "accepted")).toHaveLength(1)
        expect(yield* terminalsOf("rs-done")).toHaveLength(1)
        expect(fs.readdirSync(path.join(workDir, "rs-ended", ".grid-ended"))).toEqual(["rs-done"])
      }))

    it.effect("the orphan sweep: a node with --work-dir X --node-id work never removes the folders of a node with --work-dir X/work", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const x = tempWorkRoot()
        // Node B's root is X/work/nodeb: inside node A's root X/work.
        yield* launch("nodeb", path.join(x, "work"))
        yield* client.send("nodeb", { kind: "start", testId: "b-run", tool: "command", params: { command: ["sleep", "60"] } })
        const bStarted = yield* client.waitEvent("b-run", "started")
        const bDir = path.join(x, "work", "nodeb", "b-run")
        expect(fs.existsSync(bDir)).toBe(true)
        // Node A starts (its start-up sweep runs), runs a test of its own (its root is marked
        // now), stops, and starts again: a second sweep over X/work.
        yield* Effect.scoped(Effect.gen(function*() {
          yield* launch("work", x)
          yield* client.send("work", { kind: "start", testId: "a-run", tool: "command", params: { command: ["true"] } })
          yield* firstTerminal("a-run")
        }))
        const a = yield* launch("work", x)
        expect(fs.existsSync(bDir)).toBe(true)
        expect(alive(-bStarted.pid!)).toBe(true)
        expect(a.output()).not.toContain("nodeb")
        // B's test is intact: it stops normally and B cleans up after itself.
        yield* client.send("nodeb", { kind: "stop", testId: "b-run" })
        expect(yield* firstTerminal("b-run")).toMatchObject({ kind: "stopped", cleanup: { ok: true } })
        expect(fs.existsSync(bDir)).toBe(false)
      }))

    it.effect("grid launch: a node whose heartbeat stops listing the test it accepted is lost: the launch ends", () =>
      Effect.gen(function*() {
        // The node is played here, over the real NATS: it accepts the start, then keeps sending
        // heartbeats that no longer list the test (what a node restarted within the heartbeat TTL
        // looks like from outside when no terminal event reaches the controller).
        const client = yield* WireClient
        const nats = yield* TestNats
        const nodeId = "forgetful"
        const testId = "forget-1"
        const kv = yield* Effect.promise(() => new Kvm(client.nc).open(assets("grid").nodes))
        const now = () => new Date().toISOString()
        const heartbeat = (tests: Array<string>) =>
          JSON.stringify({
            nodeId, gridId: "default", version: "test", channel: "stable", labels: {}, state: tests.length > 0 ? "busy" : "idle",
            tests, capacity: 1, tools: ["command"], runners: ["process"],
            cpu: { cores: 1, load1: 0, usagePct: 0 }, memory: { totalMb: 1, freeMb: 1, rssMb: 1 }, disk: { workDir: "/tmp", freeMb: 1 },
            startedAt: now(), at: now()
          })
        const put = Effect.promise(() => kv.put(nodeId, heartbeat([])).catch(() => undefined))
        yield* Effect.acquireRelease(put, () => Effect.promise(() => kv.delete(nodeId).catch(() => undefined)))
        const js = jetstream(client.nc)
        const sub = yield* Effect.acquireRelease(Effect.sync(() => client.nc.subscribe(`grid.control.node.${nodeId}`)), (s) => Effect.sync(() => s.unsubscribe()))
        let accepted = false
        const publish = (subject: string, event: Record<string, unknown>) => Effect.promise(() => js.publish(subject, JSON.stringify(event)))
        yield* Stream.fromAsyncIterable(sub, (e) => e).pipe(
          Stream.runForEach((m) =>
            Effect.gen(function*() {
              const command = m.json<{ kind: string; commandId: string; testId: string }>()
              if (command.kind !== "start") return
              const subject = `grid.events.${command.testId}.${nodeId}`
              yield* publish(subject, { kind: "accepted", testId: command.testId, nodeId, commandId: command.commandId, at: now(), runner: "process", tool: "command" })
              yield* publish(subject, { kind: "started", testId: command.testId, nodeId, commandId: command.commandId, at: now(), pid: 1 })
              accepted = true
            })
          ),
          Effect.ignore,
          Effect.forkScoped
        )
        yield* put.pipe(Effect.repeat(Schedule.spaced("200 millis")), Effect.forkScoped)
        const plan = yield* decodePlan({ name: "forget", tool: "command", params: { command: ["sleep", "60"] } }, "inline plan")
        const report = yield* Effect.flatMap(Controller, (c) => c.launch(plan, { nodes: [nodeId] }, { testId, barrier: false, stopTimeout: "1 second", finalWait: "100 millis" })).pipe(
          Effect.flatMap((l) => l.await),
          Effect.timeout("20 seconds"),
          Effect.scoped,
          Effect.provide(Controller.layerNats({ url: nats.url }) as Layer.Layer<Controller>)
        )
        expect(accepted).toBe(true)
        expect(report.outcome).toBe("failed")
        expect(report.nodes.map((n) => [n.nodeId, n.status])).toEqual([[nodeId, "lost"]])
        expect(report.problems.join()).toMatch(/no longer lists the test/)
      }))
  })
})
