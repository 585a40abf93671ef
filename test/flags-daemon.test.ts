// Issue #13, live flags against a real nats-server and real daemons (in-process GridDaemon
// layers of grid "acme": fl-beta on channel beta, fl-stable on stable): a flag set for channel
// beta reaches the beta node within 1 s and not the stable one; accept=false globally pauses
// every node within 1 s (and fails /readyz) while a running test completes untouched; a daemon started after a flag
// was set applies it before its first command; a NATS restart keeps the flags in force (and a
// change after it still arrives); a value written by hand that fails its Schema leaves the node
// on the previous value; `grid flags rollback` (the real CLI) restores the previous value; and a
// launch for a grid pinned by launch.channel selects only nodes of that channel.
import { layer } from "@effect/vitest"
import { Kvm } from "@nats-io/kv"
import { Clock, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import type { Heartbeat } from "../src/protocol/health.ts"
import { TestDaemon } from "./support/daemon.ts"
import { runGrid } from "./support/gridCli.ts"
import { freePort, TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const nodes = [
  { nodeId: "fl-beta", channel: "beta" },
  { nodeId: "fl-stable", channel: "stable" }
]
/** fl-beta serves /readyz here. */
let readyzPort = 0
const daemons = Layer.effectDiscard(Effect.gen(function*() {
  readyzPort = yield* Effect.promise(freePort)
  yield* Effect.forEach(nodes, (n) =>
    TestDaemon.make({ ...n, gridId: "acme", ...(n.nodeId === "fl-beta" ? { httpAddr: { host: "127.0.0.1", port: readyzPort } } : {}) }), { concurrency: "unbounded" })
}))
const readyz = Effect.promise(() => fetch(`http://127.0.0.1:${readyzPort}/readyz`).then(async (r) => ({ status: r.status, body: await r.text() })))
const env = daemons.pipe(Layer.provideMerge(WireClient.layerNats), Layer.provideMerge(TestNats.layer()))

const flagsKv = Effect.flatMap(WireClient, (c) => Effect.promise(() => new Kvm(c.nc).open("grid_flags")))
const put = (key: string, value: string) => Effect.flatMap(flagsKv, (kv) => Effect.promise(() => kv.put(key, value)))
const unset = (key: string) => Effect.flatMap(flagsKv, (kv) => Effect.promise(() => kv.delete(key)))

const sleeper = (testId: string, seconds = 0.2) => ({ kind: "start", testId, tool: "command", params: { command: ["sleep", String(seconds)] } })

/** How long (ms, by the Clock) until the node's heartbeat says it applied `revision` and `check` holds. */
const appliedWithin = (nodeId: string, revision: number, check: (hb: Heartbeat) => boolean = () => true) =>
  Effect.gen(function*() {
    const client = yield* WireClient
    const t0 = yield* Clock.currentTimeMillis
    yield* waitUntil(`${nodeId} applies revision ${revision}`, Effect.map(client.heartbeat(nodeId), (h) =>
      h !== undefined && (h.flagsRevision ?? 0) >= revision && check(h)), "10 seconds")
    return (yield* Clock.currentTimeMillis) - t0
  })

const acceptedFlags = (testId: string) =>
  Effect.flatMap(WireClient, (c) => Effect.map(c.waitEvent(testId, "accepted"), (e) => ({ flags: e.flags ?? {}, revision: e.flagsRevision })))

layer(env, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
  describe("live flags on real daemons", () => {
    it.effect("a flag set for channel beta reaches the beta node within 1 s and not the stable one", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const before = (yield* client.heartbeat("fl-stable"))!.flagsRevision
        const rev = yield* put("channel.beta.capacity", "2")
        const ms = yield* appliedWithin("fl-beta", rev, (h) => h.capacity === 2)
        console.log(`channel.beta.capacity applied by fl-beta ${ms} ms after the put`)
        expect(ms).toBeLessThanOrEqual(1000)
        yield* client.send("fl-beta", sleeper("beta-1"))
        yield* client.send("fl-stable", sleeper("stable-1"))
        const beta = yield* acceptedFlags("beta-1")
        const stable = yield* acceptedFlags("stable-1")
        expect(beta.flags.capacity).toBe(2)
        expect(beta.revision).toBeGreaterThanOrEqual(rev)
        expect(stable.flags.capacity).toBe(1)
        const hb = (yield* client.heartbeat("fl-stable"))!
        expect(hb.capacity).toBe(1)
        expect(hb.flagsRevision).toBe(before)
        yield* unset("channel.beta.capacity")
        yield* Effect.forEach(["beta-1", "stable-1"], (t) => client.terminalOf(t))
      }))

    it.effect("accept=false globally: every node answers paused within 1 s; a running test completes untouched", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send("fl-beta", sleeper("run-long", 3))
        yield* client.waitEvent("run-long", "started")
        const rev = yield* put("global.accept", "false")
        const ms = yield* Effect.forEach(nodes, (n) => appliedWithin(n.nodeId, rev, (h) => h.accepting === false), { concurrency: "unbounded" })
        console.log(`global.accept=false applied by both nodes within ${Math.max(...ms)} ms`)
        expect(Math.max(...ms)).toBeLessThanOrEqual(1000)
        yield* client.send("fl-beta", sleeper("paused-1"))
        yield* client.send("fl-stable", sleeper("paused-2"))
        for (const t of ["paused-1", "paused-2"]) {
          const r = yield* client.waitEvent(t, "rejected")
          expect(r.code).toBe("paused")
        }
        const ready = yield* readyz
        expect(ready.status).toBe(503)
        expect(ready.body).toContain("paused by the flag accept=false (global.accept)")
        const end = yield* client.terminalOf("run-long")
        expect(end.kind).toBe("finished")
        expect(end.kind === "finished" && end.exitCode).toBe(0)
        const rev2 = yield* Effect.flatMap(flagsKv, (kv) => Effect.promise(() => kv.delete("global.accept").then(() => kv.status()))).pipe(
          Effect.map((s) => s.streamInfo.state.last_seq)
        )
        yield* Effect.forEach(nodes, (n) => appliedWithin(n.nodeId, rev2, (h) => h.accepting === true))
        expect((yield* readyz).status).toBe(200)
        yield* client.send("fl-stable", sleeper("resumed-1"))
        yield* client.waitEvent("resumed-1", "accepted")
        yield* client.terminalOf("resumed-1")
      }))

    it.effect("a daemon started after a flag was set applies it before its first command", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const rev = yield* put("node.fl-late.accept", "false")
        yield* TestDaemon.make({ nodeId: "fl-late", channel: "stable", gridId: "acme" })
        // Its very first heartbeat already says paused.
        const hb = (yield* client.heartbeat("fl-late"))!
        expect(hb.accepting).toBe(false)
        expect(hb.flagsRevision).toBeGreaterThanOrEqual(rev)
        yield* client.send("fl-late", sleeper("late-1"))
        expect((yield* client.waitEvent("late-1", "rejected")).code).toBe("paused")
        yield* unset("node.fl-late.accept")
      }).pipe(Effect.scoped))

    it.effect("a value that fails its Schema, written by hand, leaves the node on the previous value", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const good = yield* put("node.fl-stable.capacity", "3")
        yield* appliedWithin("fl-stable", good, (h) => h.capacity === 3)
        yield* put("node.fl-stable.capacity", "lots")
        yield* put("node.fl-stable.runner.default", "kubernetes")
        // A valid change after them: once applied, the two bad ones were read (in order) and ignored.
        const marker = yield* put("node.fl-stable.engine.client", "lean")
        yield* appliedWithin("fl-stable", marker)
        const hb = (yield* client.heartbeat("fl-stable"))!
        expect(hb.capacity).toBe(3)
        yield* client.send("fl-stable", sleeper("after-invalid"))
        const accepted = yield* acceptedFlags("after-invalid")
        expect(accepted.flags.capacity).toBe(3)
        expect(accepted.flags["runner.default"]).toBe("process")
        expect(accepted.flags["engine.client"]).toBe("lean")
        expect((yield* client.terminalOf("after-invalid")).kind).toBe("finished")
        // Counted (the daemons of this suite share the process's metric registry).
        const metrics = yield* Effect.promise(() => fetch(`http://127.0.0.1:${readyzPort}/metrics`).then((r) => r.text()))
        expect(metrics).toMatch(/grid_flags_invalid_total [2-9]/)
        expect(metrics).toMatch(/grid_flags_revision [1-9]/)
        yield* Effect.forEach(["node.fl-stable.capacity", "node.fl-stable.runner.default", "node.fl-stable.engine.client"], unset)
      }))

    it.effect("grid flags rollback restores the previous value (the real CLI)", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const grid = (...args: Array<string>) => runGrid(["flags", ...args, "--nats-url", nats.url])
        expect((yield* grid("set", "capacity", "2", "--node", "fl-beta")).code).toBe(0)
        expect((yield* grid("set", "capacity", "4", "--node", "fl-beta")).code).toBe(0)
        const bad = yield* grid("set", "capacity", "zero", "--node", "fl-beta")
        expect(bad.code).toBe(2)
        expect(bad.stderr).toContain("must be a whole number from 1 to 1024; nothing written")
        const back = yield* grid("rollback", "capacity", "--node", "fl-beta")
        expect(back.code, back.out).toBe(0)
        expect(back.stdout).toContain("node.fl-beta.capacity: 4 -> 2")
        expect((yield* grid("get", "capacity", "--node", "fl-beta")).stdout.trim()).toBe("2")
        yield* waitUntil("fl-beta back at capacity 2", Effect.map(client.heartbeat("fl-beta"), (h) => h?.capacity === 2))
        const history = yield* grid("history", "capacity", "--node", "fl-beta")
        expect(history.stdout.split("\n").filter((l) => /^\d+ /.test(l)).map((l) => l.trim().split(/\s+/).at(-1))).toEqual(["2", "4", "2"])
        const effective = yield* grid("effective", "--node", "fl-beta")
        expect(effective.stdout).toMatch(/capacity\s+2\s+node\s+node\.fl-beta\.capacity/)
        expect(effective.stdout).toMatch(/accept\s+true\s+default/)
        expect((yield* grid("unset", "capacity", "--node", "fl-beta")).code).toBe(0)
      }))

    it.effect("a launch for a grid pinned by launch.channel only selects nodes of that channel", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const client = yield* WireClient
        yield* waitUntil("both nodes idle", Effect.map(Effect.forEach(nodes, (n) => client.heartbeat(n.nodeId)), (hbs) =>
          hbs.every((h) => h?.state === "idle" && h.accepting !== false)))
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-flags-"))
        const plan = path.join(dir, "plan.json")
        fs.writeFileSync(plan, JSON.stringify({ name: "pin-test", tool: "command", params: { command: ["sleep", "0.2"] } }))
        const set = yield* runGrid(["flags", "set", "launch.channel", "stable", "--grid", "acme", "--nats-url", nats.url])
        expect(set.code, set.out).toBe(0)
        // What is checked is the selection (a command test has no result windows, which a launch
        // may judge on its own: its exit code is not the point here).
        const ran = yield* runGrid(["launch", plan, "--grid", "acme", "--nats-url", nats.url])
        expect(ran.out).toContain("grid acme is pinned to channel stable")
        expect(ran.out).toMatch(/starting command on fl-stable\n/)
        expect(ran.out).toContain("node fl-stable: finished")
        expect(ran.out).not.toContain("fl-beta")
        // --channel given: the pin does not apply.
        const beta = yield* runGrid(["launch", plan, "--grid", "acme", "--channel", "beta", "--nats-url", nats.url])
        expect(beta.out).not.toContain("is pinned to channel")
        expect(beta.out).toMatch(/starting command on fl-beta\n/)
        yield* unset("grid.acme.launch.channel")
        fs.rmSync(dir, { recursive: true, force: true })
      }))

    it.effect("a NATS restart keeps the flags in force, and a change after it still arrives", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const rev = yield* put("channel.beta.capacity", "3")
        yield* appliedWithin("fl-beta", rev, (h) => h.capacity === 3)
        yield* Effect.promise(() => nats.kill())
        yield* Effect.promise(() => nats.start())
        // Heartbeats again (a read during the restart may time out: not an answer yet).
        const since = yield* Clock.currentTimeMillis
        const fresh = client.heartbeat("fl-beta").pipe(
          Effect.map((h) => h !== undefined && Date.parse(h.at) > since),
          Effect.catchCause(() => Effect.succeed(false))
        )
        yield* waitUntil("fl-beta heartbeats again", fresh, "30 seconds")
        // A change after the restart is applied: the watch was opened again, from a whole
        // snapshot of the bucket, which still holds capacity 3 (a lost bucket would drop it to 1).
        const marker = yield* put("channel.beta.engine.client", "lean")
        yield* appliedWithin("fl-beta", marker, (h) => h.capacity === 3)
        yield* client.send("fl-beta", sleeper("after-restart"))
        expect((yield* acceptedFlags("after-restart")).flags.capacity).toBe(3)
        yield* client.terminalOf("after-restart")
        const rev2 = yield* put("channel.beta.capacity", "2")
        yield* appliedWithin("fl-beta", rev2, (h) => h.capacity === 2)
        yield* Effect.forEach(["channel.beta.capacity", "channel.beta.engine.client"], unset)
      }))
  })
})
