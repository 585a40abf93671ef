// Least privilege on NATS (issue #14 item 5): a real nats-server runs examples/nats/grid-server.conf
// as shipped. A node (lg-1, in-process) and a controller (`grid launch`, a real process) with
// their own credentials run a launch end to end; then another node's credentials (lg-2) try
// what a stolen node credential must not do: command lg-1, read lg-1's results, delete its
// heartbeat. Each attempt fails, and the server's state shows it had no effect. The observer
// reads but cannot command.
import { layer } from "@effect/vitest"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect, type NatsConnection as Conn } from "@nats-io/transport-node"
import { Effect, Layer, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { assets, nodeInboxPrefix, subjects } from "../src/protocol/names.ts"
import { countingTarget } from "./fixtures/countingTarget.ts"
import { TestDaemon } from "./support/daemon.ts"
import { runGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { WireClient } from "./support/WireClient.ts"

const configFile = path.join(import.meta.dirname, "..", "examples", "nats", "grid-server.conf")
const password = (user: string) => `change-me-${user}`
const A = assets("grid")
const S = subjects("grid")

// The controller's client creates the streams and buckets (a node's credentials cannot) before
// the node starts; the node then runs with its own credentials only.
const env = TestDaemon.layer({ nodeId: "lg-1", nats: { user: "lg-1", password: Redacted.make(password("lg-1")) } }).pipe(
  Layer.provideMerge(WireClient.layerNatsAs("controller", password("controller"))),
  Layer.provideMerge(TestNats.layer({ configFile }))
)

/** A raw connection as `user`, as a thief of those credentials would open it. */
const connectAs = (user: string, inboxPrefix?: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const nats = yield* TestNats
      return yield* Effect.promise(() => connect({ servers: nats.url, user, pass: password(user), ...(inboxPrefix ? { inboxPrefix } : {}) }))
    }),
    (nc) => Effect.promise(() => nc.close())
  )

/** Whether the promise fails (a refusal, or no answer within the client's timeout). */
const refused = <A>(attempt: () => Promise<A>) =>
  Effect.promise(() => attempt().then(() => false, () => true))

const controlMessages = (controller: Conn) =>
  Effect.promise(() => jetstreamManager(controller).then((jsm) => jsm.streams.info(A.control)).then((i) => i.state.messages))

describe("least privilege on NATS (examples/nats/grid-server.conf)", () => {
  layer(env, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect("a node and a controller with their own credentials run a launch end to end", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const target = yield* countingTarget
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-perm-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
        const plan = path.join(dir, "plan.json")
        fs.writeFileSync(plan, JSON.stringify({
          name: "perm",
          tool: "builtin",
          scenario: { target: target.url, requests: [{ name: "home", path: "/" }], load: { model: "closed", users: 1, durationSeconds: 2 } }
        }))
        const ran = yield* runGrid([
          "launch", plan, "--nodes", "lg-1", "--test-id", "perm-e2e", "--nats-url", nats.url,
          "--nats-user", "controller", "--nats-password", password("controller")
        ])
        expect(ran.code, ran.out).toBe(0)
        expect(ran.out).toContain("lg-1")
        const served = target.count()
        expect(served).toBeGreaterThan(0)
        const windows = yield* (yield* WireClient).results("perm-e2e")
        expect(windows.flatMap((w) => w.labels.filter((l) => l.label === "*")).reduce((n, l) => n + l.count, 0)).toBe(served)
      }).pipe(Effect.scoped))

    it.effect("another node's credentials cannot publish a command to lg-1", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const thief = yield* connectAs("lg-2", nodeInboxPrefix("lg-2"))
        const before = yield* controlMessages(client.nc)
        const command = JSON.stringify({ kind: "start", commandId: "stolen-1", testId: "stolen", tool: "command", params: { command: ["true"] } })
        // Through JetStream (as a controller sends), and as a plain publish.
        expect(yield* refused(() => jetstream(thief, { timeout: 2000 }).publish(S.control("lg-1"), command))).toBe(true)
        thief.publish(S.control("lg-1"), command)
        yield* Effect.promise(() => thief.flush())
        expect(yield* controlMessages(client.nc)).toBe(before)
        // Nor can it read lg-1's commands through lg-1's consumer.
        expect(yield* refused(() => jetstream(thief, { timeout: 2000 }).consumers.get(A.control, "node-lg-1").then((c) => c.next({ expires: 1000 })))).toBe(true)
      }).pipe(Effect.scoped))

    it.effect("another node's credentials cannot read a test's results", () =>
      Effect.gen(function*() {
        const thief = yield* connectAs("lg-2", nodeInboxPrefix("lg-2"))
        const subject = S.results("perm-e2e", "lg-1")
        const jsm = yield* Effect.promise(() => jetstreamManager(thief, { timeout: 2000 }))
        expect(yield* refused(() => jsm.streams.getMessage(A.results, { last_by_subj: subject }))).toBe(true)
        expect(yield* refused(() => jsm.direct.getMessage(A.results, { last_by_subj: subject }))).toBe(true)
        expect(yield* refused(() => jsm.consumers.add(A.results, { filter_subject: subject }))).toBe(true)
        expect(yield* refused(() => jetstream(thief, { timeout: 2000 }).consumers.get(A.results).then((c) => c.next({ expires: 1000 })))).toBe(true)
        // A plain subscription is refused by the server: it closes with a permissions error.
        const sub = thief.subscribe("grid.results.>")
        const closed = yield* Effect.promise(() => sub.closed.then((e) => e, (e: unknown) => e))
        expect(String(closed)).toMatch(/permission/i)
        // The controller reads them: the windows are there to steal.
        expect((yield* (yield* WireClient).results("perm-e2e")).length).toBeGreaterThan(0)
      }).pipe(Effect.scoped))

    it.effect("another node's credentials cannot delete lg-1's heartbeat", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const thief = yield* connectAs("lg-2", nodeInboxPrefix("lg-2"))
        const kv = yield* Effect.promise(() => new Kvm(thief).open(A.nodes, { timeout: 2000 }))
        expect(yield* refused(() => kv.delete("lg-1"))).toBe(true)
        expect(yield* refused(() => kv.purge("lg-1"))).toBe(true)
        expect(yield* refused(() => kv.put("lg-1", "{}"))).toBe(true)
        // Its own key it may write: the permission is per key, not per bucket.
        expect(yield* refused(() => kv.put("lg-2", "{}"))).toBe(false)
        const entry = yield* Effect.promise(() => new Kvm(client.nc).open(A.nodes).then((b) => b.get("lg-1")))
        expect(entry?.operation).toBe("PUT")
        expect(entry?.json<{ nodeId: string }>().nodeId).toBe("lg-1")
      }).pipe(Effect.scoped))

    it.effect("the observer reads but cannot command", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const observer = yield* connectAs("observer")
        const jsm = yield* Effect.promise(() => jetstreamManager(observer, { timeout: 2000 }))
        const window = yield* Effect.promise(() => jsm.streams.getMessage(A.results, { last_by_subj: S.results("perm-e2e", "lg-1") }))
        expect(window?.subject).toBe(S.results("perm-e2e", "lg-1"))
        const before = yield* controlMessages(client.nc)
        const command = JSON.stringify({ kind: "stop", commandId: "obs-1", testId: "perm-e2e" })
        expect(yield* refused(() => jetstream(observer, { timeout: 2000 }).publish(S.control("lg-1"), command))).toBe(true)
        expect(yield* refused(() => jsm.streams.purge(A.results))).toBe(true)
        expect(yield* refused(() => jsm.streams.delete(A.events))).toBe(true)
        expect(yield* controlMessages(client.nc)).toBe(before)
      }).pipe(Effect.scoped))
  })
})
