// The controller reads the wire through the Schemas, against a real nats-server: a stored
// message that is not a valid event, window or heartbeat is skipped (history, report, nodes),
// an event of a kind it does not know is read as such, and nothing fails the read.
import { jetstream } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect, type NatsConnection as Conn } from "@nats-io/transport-node"
import { layer } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer, type Scope, Stream } from "effect"
import { describe, expect } from "vitest"
import { Controller } from "../src/controller/Controller.ts"
import { assets } from "../src/protocol/names.ts"
import { encodeHistogram, newHistogram } from "../src/protocol/results.ts"
import { TestNats } from "./support/natsServer.ts"

const prefix = "gw"

/** A plain connection to the suite's server, for writing what a controller must read. */
class Nc extends Context.Service<Nc, Conn>()("test/controller-wire/Nc") {
  static readonly layer = Layer.effect(Nc, Effect.flatMap(TestNats, (nats) =>
    Effect.acquireRelease(Effect.promise(() => connect({ servers: nats.url })), (nc) => Effect.promise(() => nc.close()))))
}

const env = Nc.layer.pipe(Layer.provideMerge(TestNats.layer()))

const withController = <A, E>(effect: Effect.Effect<A, E, Controller | Scope.Scope>) =>
  Effect.flatMap(TestNats, (nats) =>
    effect.pipe(Effect.scoped, Effect.provide(Controller.layerNats({ url: nats.url, subjectPrefix: prefix, nodeTtl: Duration.seconds(15) }) as Layer.Layer<Controller>)))

const at = "2026-01-01T00:00:00.000Z"
const label = (count: number) => {
  const h = newHistogram()
  for (let i = 0; i < count; i++) h.recordValue(1000)
  return { label: "*", count, errors: 0, bytesIn: 0, bytesOut: 0, latencyMs: { min: 1, mean: 1, p50: 1, p90: 1, p95: 1, p99: 1, max: 1 }, status: { "200": count }, hdr: encodeHistogram(h) }
}

describe("the controller reads through the Schemas", () => {
  layer(env, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    it.effect("history and report skip what does not decode and keep unknown kinds", () =>
      Effect.gen(function*() {
        yield* withController(Effect.flatMap(Controller, (c) => c.nodes)) // creates the assets
        const js = jetstream(yield* Nc)
        const ev = (node: string, body: unknown) =>
          Effect.promise(() => js.publish(`${prefix}.events.wt.${node}`, typeof body === "string" ? body : JSON.stringify(body)))
        yield* ev("n1", { kind: "accepted", testId: "wt", nodeId: "n1", at, runner: "process", tool: "builtin", extra: 1 })
        // A finished event without its fields: it is not read as the node's end.
        yield* ev("n1", { kind: "finished", testId: "wt", nodeId: "n1", at })
        yield* ev("n1", { kind: "paused", testId: "wt", nodeId: "n1", at })
        yield* ev("n1", "not json at all")
        yield* ev("n2", { kind: "failed", testId: "wt", nodeId: "n2", at, error: "boom" })
        const win = (node: string, body: unknown) => Effect.promise(() => js.publish(`${prefix}.results.wt.${node}`, JSON.stringify(body)))
        yield* win("n1", { testId: "wt", nodeId: "n1", seq: 0, start: 0, end: 1000, labels: [label(5)], final: false })
        // Labels without histograms: not a window.
        yield* win("n1", { testId: "wt", nodeId: "n1", seq: 1, start: 1000, end: 2000, labels: [{ label: "*", count: 1000 }], final: true })

        const history = yield* withController(Effect.flatMap(Controller, (c) => c.history("wt")))
        expect(history.events).toEqual([
          { kind: "accepted", testId: "wt", nodeId: "n1", at, runner: "process", tool: "builtin" },
          { kind: "unknown", wireKind: "paused", testId: "wt", nodeId: "n1", at }
        ])
        expect(history.windows.map((w) => w.seq)).toEqual([0])
        const report = yield* withController(Effect.flatMap(Controller, (c) => c.report("wt")))
        expect(report.nodes.map((n) => [n.nodeId, n.status, n.count])).toEqual([["n1", "accepted", 5]])
        expect(report.summary.total.count).toBe(5)
      }))

    it.effect("nodes and watchNodes skip a corrupt heartbeat and read an older node's", () =>
      Effect.gen(function*() {
        const nc = yield* Nc
        const kv = yield* Effect.promise(() => new Kvm(nc).open(assets(prefix).nodes))
        const put = (key: string, value: string) => Effect.promise(() => kv.put(key, value))
        const older = {
          nodeId: "old", gridId: "g", version: "0.0.1", channel: "stable", labels: {}, state: "idle", tests: [], capacity: 1,
          tools: ["builtin"], runners: ["process"], cpu: { cores: 1, load1: 0, usagePct: 0 }, memory: { totalMb: 1, freeMb: 1, rssMb: 1 },
          disk: { workDir: "/tmp", freeMb: 1 }, startedAt: at, at
        }
        yield* put("old", JSON.stringify(older))
        yield* put("bad", JSON.stringify({ nodeId: "bad", state: "idle" }))
        yield* put("junk", "{{{")
        const nodes = yield* withController(Effect.flatMap(Controller, (c) => c.nodes))
        expect(nodes.map((n) => n.heartbeat)).toEqual([older])
        const watched = yield* Effect.forkChild(withController(Effect.flatMap(Controller, (c) => c.watchNodes.pipe(Stream.take(2), Stream.runCollect))))
        yield* put("zz", JSON.stringify({ ...older, nodeId: "zz" }))
        expect(Array.from(yield* Fiber.join(watched), (c) => (c.op === "put" ? c.heartbeat.nodeId : c.op))).toEqual(["old", "zz"])
      }))
  })
})
