// An ordered, never-dropping JetStream publisher: messages are queued, one fiber publishes
// them in order and retries each until JetStream acknowledges it (the `Nats-Msg-Id` makes a
// retry that did land harmless). While NATS is away the queue grows; on shutdown `flush`
// waits, with a bound, for it to empty. Used for events (results have their own, with spill).
import type { JetStreamClient } from "@nats-io/jetstream"
import { Duration, Effect, Queue, Ref, Schedule } from "effect"
import { describe } from "./NatsConnection.ts"

export interface OutboxMessage {
  readonly subject: string
  readonly data: Uint8Array
  readonly msgId: string
}

export interface Outbox {
  readonly offer: (message: OutboxMessage) => Effect.Effect<void>
  /** Waits until everything queued so far is acknowledged; false if `timeout` passed first. */
  readonly flush: (timeout: Duration.Duration) => Effect.Effect<boolean>
  readonly pending: Effect.Effect<number>
}

export const makeOutbox = (js: JetStreamClient, name: string) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<OutboxMessage>()
    const pending = yield* Ref.make(0)
    const publishOne = (m: OutboxMessage) =>
      Effect.tryPromise({
        try: () => js.publish(m.subject, m.data, { msgID: m.msgId, timeout: 5_000 }),
        catch: (e) => describe(e)
      }).pipe(
        Effect.tapError((e) => Effect.logWarning(`${name}: publish to ${m.subject} failed, will retry: ${e}`)),
        Effect.retry(Schedule.min([Schedule.exponential("100 millis", 2), Schedule.spaced("2 seconds")])),
        Effect.ignore
      )
    const loop = Queue.take(queue).pipe(
      Effect.flatMap((m) => publishOne(m)),
      Effect.andThen(Ref.update(pending, (n) => n - 1)),
      Effect.forever
    )
    const outbox: Outbox = {
      offer: (m) => Ref.update(pending, (n) => n + 1).pipe(Effect.andThen(Queue.offer(queue, m)), Effect.asVoid),
      flush: (timeout) =>
        Ref.get(pending).pipe(
          Effect.repeat({ until: (n) => n === 0, schedule: Schedule.spaced("20 millis") }),
          Effect.as(true),
          Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.succeed(false) })
        ),
      pending: Ref.get(pending)
    }
    return { outbox, loop }
  })
