// EventSink over JetStream: events go to `grid.events.<testId>.<nodeId>` through an ordered,
// retrying outbox, so a NATS outage delays events but never loses or reorders them.
// Releasing the layer flushes what is queued (bounded by the config's flush timeout).
import { Duration, Effect, Layer } from "effect"
import * as crypto from "node:crypto"
import { toWire } from "../protocol/events.ts"
import type { Subjects } from "../protocol/names.ts"
import { EventSink } from "../runner/EventSink.ts"
import { NatsConnection } from "./NatsConnection.ts"
import { makeOutbox } from "./Outbox.ts"

export const natsEventSinkLayer = (subjects: Subjects, flushTimeout: Duration.Duration) =>
  Layer.effect(
    EventSink,
    Effect.gen(function*() {
      const { js } = yield* NatsConnection
      const { outbox, loop } = yield* makeOutbox(js, "events")
      yield* Effect.forkScoped(loop)
      yield* Effect.addFinalizer(() =>
        outbox.flush(flushTimeout).pipe(
          Effect.flatMap((ok) => (ok ? Effect.void : Effect.flatMap(outbox.pending, (n) => Effect.logError(`${n} events could not be published before shutdown`))))
        )
      )
      const encoder = new TextEncoder()
      return EventSink.of({
        publish: (event) =>
          outbox.offer({
            subject: subjects.events(event.testId, event.nodeId),
            data: encoder.encode(JSON.stringify(toWire(event))),
            msgId: crypto.randomUUID()
          })
      })
    })
  )
