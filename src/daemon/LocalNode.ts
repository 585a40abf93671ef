// The node `grid run` drives on the user's machine: the daemon's control listener, test
// manager, runner and ingestion, over an in-memory control bus, event sink and result
// transport instead of NATS. Commands go in as the same JSON bytes a daemon receives.
import { Context, Effect, Layer, PubSub, Queue, type Scope, Stream } from "effect"
import { controlListener } from "../control/ControlListener.ts"
import { type ControlMessage, ControlSource } from "../control/ControlSource.ts"
import { makeMemoryTransport, type MemoryTransport, ResultTransport } from "../ingest/ResultTransport.ts"
import type { GridEvent } from "../protocol/events.ts"
import { Backends } from "../runner/Backends.ts"
import { EventSink, MemoryEvents } from "../runner/EventSink.ts"
import { LocalRun, type LocalRunHooks } from "../runner/LocalRun.ts"
import { ProcessBackend } from "../runner/ProcessBackend.ts"
import { ResultIngest } from "../runner/ResultIngest.ts"
import { TestManager } from "../runner/TestManager.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import type { DaemonSettings } from "./DaemonConfig.ts"
import type { DaemonRequirements } from "./GridDaemon.ts"

export interface LocalNode {
  /** Publishes a command on the in-memory bus, as a controller would on NATS. */
  readonly send: (command: Record<string, unknown>) => Effect.Effect<void>
  /** Every event the node publishes, from the start. */
  readonly events: Stream.Stream<GridEvent>
  /** The result windows published (what GRID_RESULTS would hold). */
  readonly results: MemoryTransport
}

export const localNode = (
  settings: DaemonSettings,
  hooks: LocalRunHooks
): Effect.Effect<LocalNode, never, Scope.Scope | DaemonRequirements> =>
  Effect.gen(function*() {
    const bus = yield* Queue.unbounded<ControlMessage>()
    const results = makeMemoryTransport()
    const base = Layer.mergeAll(
      Backends.processOnly.pipe(Layer.provide(ProcessBackend.layer({ forcedGrace: settings.stopGrace }))),
      ToolRegistry.layerWith(settings.toolPaths),
      ResultIngest.layer({ nodeId: settings.nodeId, windowMs: settings.windowMs, appearTimeout: settings.resultsTimeout }).pipe(
        Layer.provide(ResultTransport.layerMemory(results))
      ),
      EventSink.memory,
      Layer.succeed(ControlSource, ControlSource.of({ messages: Stream.fromQueue(bus) })),
      Layer.succeed(LocalRun, hooks)
    ).pipe(Layer.provideMerge(MemoryEvents.layer))
    const ctx = yield* Layer.build(TestManager.layer(settings).pipe(Layer.provideMerge(base)))
    const memory = Context.get(ctx, MemoryEvents)
    // Subscribed before any command, so no event is missed.
    const subscription = yield* PubSub.subscribe(memory.pubsub)
    yield* controlListener(settings).pipe(Effect.provideContext(ctx), Effect.forkScoped)
    const encoder = new TextEncoder()
    return {
      send: (command) =>
        Queue.offer(bus, { data: encoder.encode(JSON.stringify(command)), redelivered: false, deliveryCount: 1, ack: Effect.void, term: Effect.void }).pipe(Effect.asVoid),
      events: Stream.fromSubscription(subscription),
      results
    }
  })
