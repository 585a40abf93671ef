// The node `grid run` drives on the user's machine: the grid node itself (GridNode.ts) over
// memory ports (a control bus, an event log, a result transport, a heartbeat sink nobody
// reads), with the process and inprocess backends (inprocess by default: the built-in engine
// runs inside this process) and no orphan sweep (its work root is a fresh temp dir).
// Commands go in as the same JSON bytes a daemon receives; the result windows it publishes
// are what `grid run` shows.
import { Context, Effect, Layer, PubSub, Queue, type Scope, Stream } from "effect"
import { type ControlMessage, ControlSource } from "../control/ControlSource.ts"
import { NodeRegistry } from "../health/NodeRegistry.ts"
import { makeMemoryTransport, type MemoryTransport, ResultTransport } from "../ingest/ResultTransport.ts"
import type { GridEvent } from "../protocol/events.ts"
import { ArtifactStore } from "../runner/ArtifactStore.ts"
import { Backends } from "../runner/Backends.ts"
import { EventSink, MemoryEvents } from "../runner/EventSink.ts"
import { LocalRun, type LocalRunHooks } from "../runner/LocalRun.ts"
import { OrphanSweep } from "../runner/OrphanSweep.ts"
import type { DaemonSettings } from "./DaemonConfig.ts"
import type { DaemonRequirements } from "./GridDaemon.ts"
import { GridNode } from "./GridNode.ts"

export interface LocalNode {
  /** Publishes a command on the in-memory bus, as a controller would on NATS. */
  readonly send: (command: Record<string, unknown>) => Effect.Effect<void>
  /** Every event the node publishes, from the start. */
  readonly events: Stream.Stream<GridEvent>
  /** The result windows published (what GRID_RESULTS would hold). */
  readonly results: MemoryTransport
}

/** The memory ports of a node, and the handles a caller drives them by. */
export const memoryPorts = Effect.gen(function*() {
  const bus = yield* Queue.unbounded<ControlMessage>()
  const results = makeMemoryTransport()
  const layer = Layer.mergeAll(
    EventSink.memory,
    Layer.succeed(ControlSource, ControlSource.of({ messages: Stream.fromQueue(bus) })),
    ResultTransport.layerMemory(results),
    NodeRegistry.discard
  ).pipe(Layer.provideMerge(MemoryEvents.layer))
  const encoder = new TextEncoder()
  const send = (command: Record<string, unknown>) =>
    Queue.offer(bus, {
      data: encoder.encode(JSON.stringify(command)),
      redelivered: false,
      deliveryCount: 1,
      ack: Effect.void,
      term: Effect.void
    }).pipe(Effect.asVoid)
  return { layer, send, results }
})

export const localNode = (
  settings: DaemonSettings,
  hooks: LocalRunHooks,
  /** Where a test's screenshots are kept (`grid run`: a local folder); none by default. */
  artifacts: Layer.Layer<ArtifactStore> = ArtifactStore.none
): Effect.Effect<LocalNode, never, Scope.Scope | DaemonRequirements> =>
  Effect.gen(function*() {
    const ports = yield* memoryPorts
    const ctx = yield* Layer.build(
      GridNode.layer({ ...settings, defaultRunner: "inprocess" }).pipe(
        Layer.provideMerge(ports.layer),
        Layer.provide(Layer.mergeAll(
          Backends.local({ forcedGrace: settings.stopGrace }),
          OrphanSweep.none,
          artifacts,
          Layer.succeed(LocalRun, hooks)
        ))
      )
    ).pipe(Effect.orDie)
    const memory = Context.get(ctx, MemoryEvents)
    // Subscribed at once; the node acts only on commands, and none was sent yet.
    const subscription = yield* PubSub.subscribe(memory.pubsub)
    return { send: ports.send, events: Stream.fromSubscription(subscription), results: ports.results }
  })
