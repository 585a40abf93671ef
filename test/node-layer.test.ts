// The grid node as one Layer over its four ports (src/daemon/GridNode.ts), with memory ports
// and real processes: a failing worker fails `done` with its name and the node still releases
// in order; shutdown stops the tests (their terminal events out) before the heartbeat goes, and
// the ports are released last.
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Queue, Stream } from "effect"
import { type ControlMessage, ControlSource, ControlSourceError } from "../src/control/ControlSource.ts"
import { defaultSettings } from "../src/daemon/DaemonConfig.ts"
import { DaemonError, GridNode } from "../src/daemon/GridNode.ts"
import { NodeRegistry } from "../src/health/NodeRegistry.ts"
import { makeMemoryTransport, ResultTransport } from "../src/ingest/ResultTransport.ts"
import { Backends } from "../src/runner/Backends.ts"
import { EventSink, noDeliveryBacklog } from "../src/runner/EventSink.ts"
import { OrphanSweep } from "../src/runner/OrphanSweep.ts"
import { ProcessBackend } from "../src/runner/ProcessBackend.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"

const settings = () => defaultSettings({ nodeId: "layer-1", workDir: tempWorkRoot(), stopGrace: Duration.seconds(2) })

/** Event sink and heartbeat registry writing into one log, so their order can be checked. */
const ports = (log: Array<string>, messages: Stream.Stream<ControlMessage, ControlSourceError>) =>
  Layer.mergeAll(
    Layer.effect(EventSink, Effect.gen(function*() {
      yield* Effect.addFinalizer(() => Effect.sync(() => void log.push("sink released")))
      return EventSink.of({
        publish: (e) => Effect.sync(() => void log.push(`${e.kind} ${e.testId ?? ""}`)),
        stats: Effect.succeed(noDeliveryBacklog)
      })
    })),
    Layer.succeed(NodeRegistry, NodeRegistry.of({
      put: () => Effect.void,
      remove: (id) => Effect.sync(() => void log.push(`heartbeat removed ${id}`))
    })),
    Layer.succeed(ControlSource, ControlSource.of({ messages })),
    ResultTransport.layerMemory(makeMemoryTransport()),
    Backends.processOnly.pipe(Layer.provide(ProcessBackend.layer({ forcedGrace: "2 seconds" }))),
    OrphanSweep.none
  ).pipe(Layer.provideMerge(NodeServices.layer))

const message = (command: Record<string, unknown>): ControlMessage => ({
  data: new TextEncoder().encode(JSON.stringify(command)),
  redelivered: false,
  deliveryCount: 1,
  ack: Effect.void,
  term: Effect.void
})

describe("the node Layer", () => {
  it.live("a failing worker fails done with its name; the node still releases in order", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const failing = Stream.fromEffect(Effect.sleep("100 millis")).pipe(
        Stream.flatMap(() => Stream.fail(new ControlSourceError({ message: "consumer deleted" })))
      )
      const error = yield* Effect.flatMap(GridNode, (node) => Effect.flip(node.done)).pipe(
        Effect.provide(GridNode.layer(settings()).pipe(Layer.provide(ports(log, failing)))),
        Effect.scoped
      )
      assert.instanceOf(error, DaemonError)
      assert.strictEqual(error.component, "control")
      assert.include(error.message, "consumer deleted")
      assert.deepStrictEqual(log.slice(-2), ["heartbeat removed layer-1", "sink released"])
    }))

  it.live("shutdown: tests stop with their terminal event, then the heartbeat goes, then the ports", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const bus = yield* Queue.unbounded<ControlMessage>()
      yield* Effect.gen(function*() {
        yield* GridNode
        yield* Queue.offer(bus, message({ kind: "start", commandId: "c1", testId: "long", tool: "command", params: { command: ["sleep", "30"] } }))
        for (let i = 0; i < 200 && !log.includes("started long"); i++) yield* Effect.sleep("25 millis")
      }).pipe(
        Effect.provide(GridNode.layer(settings()).pipe(Layer.provide(ports(log, Stream.fromQueue(bus))))),
        Effect.scoped
      )
      assert.deepStrictEqual(log, ["accepted long", "started long", "stopped long", "heartbeat removed layer-1", "sink released"])
    }))
})
