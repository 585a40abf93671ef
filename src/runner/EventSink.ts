// Where the runner and the control listener send protocol events. The runner never imports
// NATS: the daemon provides a JetStream-backed sink (src/nats/NatsEventSink.ts, ordered and
// retried), `grid run` and tests an in-memory one.
import { Context, Effect, Layer, PubSub, Ref } from "effect"
import type { GridEvent } from "../protocol/events.ts"
import type { DeliveryStats } from "../protocol/health.ts"

export type { DeliveryStats }

export const noDeliveryBacklog: DeliveryStats = { depth: 0, oldestAgeMs: 0, dropped: 0 }

export class EventSink extends Context.Service<EventSink, {
  /** Queues the event for delivery; never fails (delivery is retried until shutdown's bound). */
  readonly publish: (event: GridEvent) => Effect.Effect<void>
  readonly stats: Effect.Effect<DeliveryStats>
}>()("grid/runner/EventSink") {
  /** In-memory sink: keeps every event and broadcasts it (for `grid run` and tests). */
  static readonly memory = Layer.effect(
    EventSink,
    Effect.gen(function*() {
      const log = yield* MemoryEvents
      return EventSink.of({ publish: log.record, stats: Effect.succeed(noDeliveryBacklog) })
    })
  )
}

export class MemoryEvents extends Context.Service<MemoryEvents, {
  readonly record: (event: GridEvent) => Effect.Effect<void>
  readonly all: Effect.Effect<ReadonlyArray<GridEvent>>
  readonly pubsub: PubSub.PubSub<GridEvent>
}>()("grid/runner/MemoryEvents") {
  static readonly layer = Layer.effect(
    MemoryEvents,
    Effect.gen(function*() {
      const ref = yield* Ref.make<ReadonlyArray<GridEvent>>([])
      const pubsub = yield* PubSub.unbounded<GridEvent>()
      return MemoryEvents.of({
        record: (event) => Ref.update(ref, (all) => [...all, event]).pipe(Effect.andThen(PubSub.publish(pubsub, event)), Effect.asVoid),
        all: Ref.get(ref),
        pubsub
      })
    })
  )
}
