// EventSink over JetStream: events go to `grid.events.<testId>.<nodeId>` through an ordered,
// retrying outbox, so a NATS outage delays events but never loses or reorders them. Every
// event is encoded within the server's payload limit (src/protocol/encodeEvent.ts), and one
// that NATS still refuses for good is dropped and counted rather than blocking the rest.
// Releasing the layer flushes what is queued (bounded by the config's flush timeout).
import { Duration, Effect, Layer, Ref } from "effect"
import * as crypto from "node:crypto"
import { clip } from "../protocol/bounded.ts"
import { encodeEvent } from "../protocol/encodeEvent.ts"
import type { Subjects } from "../protocol/names.ts"
import { EventSink } from "../runner/EventSink.ts"
import { maxPublishBytes, NatsConnection } from "./NatsConnection.ts"
import { makeOutbox } from "./Outbox.ts"


export const natsEventSinkLayer = (subjects: Subjects, flushTimeout: Duration.Duration) =>
  Layer.effect(
    EventSink,
    Effect.gen(function*() {
      const { nc, js } = yield* NatsConnection
      const { outbox, loop } = yield* makeOutbox(js, "events")
      const unencodable = yield* Ref.make(0)
      yield* Effect.forkScoped(loop)
      yield* Effect.addFinalizer(() =>
        outbox.flush(flushTimeout).pipe(
          Effect.flatMap((ok) => (ok ? Effect.void : Effect.flatMap(outbox.pending, (n) => Effect.logError(`${n} events could not be published before shutdown`))))
        )
      )
      const maxBytes = () => maxPublishBytes(nc)
      return EventSink.of({
        publish: (event) =>
          Effect.suspend(() => {
            const data = encodeEvent(event, maxBytes())
            if (data === undefined) {
              return Ref.update(unencodable, (n) => n + 1).pipe(
                Effect.andThen(Effect.logError(`dropped a ${event.kind} event of test ${clip(String(event.testId), 80)}: it does not fit in ${maxBytes()} bytes`))
              )
            }
            return outbox.offer({ subject: subjects.events(event.testId, event.nodeId), data, msgId: crypto.randomUUID() })
          }),
        stats: Effect.zipWith(outbox.stats, Ref.get(unencodable), (s, n) => ({ ...s, dropped: s.dropped + n }))
      })
    })
  )
