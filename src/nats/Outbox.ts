// An ordered JetStream publisher: messages are queued, one fiber publishes them in order and
// retries each until JetStream acknowledges it (the `Nats-Msg-Id` makes a retry that did land
// harmless). While NATS is away the queue grows; on shutdown `flush` waits, with a bound, for
// it to empty. A message NATS refuses for a reason no retry can cure (over the payload limit,
// an invalid subject, no permission) is dropped with a log line and counted, so it never
// blocks the messages behind it. `stats` tells how deep the queue is and how old its head.
import type { JetStreamClient } from "@nats-io/jetstream"
import { Clock, Duration, Effect, Queue, Ref, Schedule } from "effect"
import { clip } from "../protocol/bounded.ts"
import { publishRetry } from "../protocol/delivery.ts"
import type { DeliveryStats } from "../runner/EventSink.ts"
import { describe } from "./NatsConnection.ts"

export interface OutboxMessage {
  readonly subject: string
  readonly data: Uint8Array
  readonly msgId: string
}

export type OutboxStats = DeliveryStats

export interface Outbox {
  readonly offer: (message: OutboxMessage) => Effect.Effect<void>
  /** Waits until everything queued so far is acknowledged; false if `timeout` passed first. */
  readonly flush: (timeout: Duration.Duration) => Effect.Effect<boolean>
  readonly pending: Effect.Effect<number>
  readonly stats: Effect.Effect<OutboxStats>
}

/** Errors of nats.js that the same publish can never get past. */
const permanentErrors = new Set(["InvalidArgumentError", "InvalidSubjectError", "PermissionViolationError"])
export const isPermanent = (e: unknown): boolean =>
  e instanceof Error && (permanentErrors.has(e.name) || /max_payload|permissions violation/i.test(e.message))


class Permanent {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

export const makeOutbox = (js: JetStreamClient, name: string) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<OutboxMessage>()
    /** Enqueue times of what is pending, oldest first. */
    const since: Array<number> = []
    const dropped = yield* Ref.make(0)
    const publishOne = (m: OutboxMessage) =>
      Effect.tryPromise({
        try: () => js.publish(m.subject, m.data, { msgID: m.msgId, timeout: 5_000 }),
        catch: (e) => (isPermanent(e) ? new Permanent(describe(e)) : describe(e))
      }).pipe(
        Effect.tapError((e) =>
          e instanceof Permanent ? Effect.void : Effect.logWarning(`${name}: publish to ${m.subject} failed, will retry: ${e}`)
        ),
        Effect.retry({ schedule: publishRetry(), while: (e) => !(e instanceof Permanent) }),
        Effect.catch((e) =>
          e instanceof Permanent
            ? Ref.update(dropped, (n) => n + 1).pipe(
              Effect.andThen(Effect.logError(`${name}: dropped a ${m.data.byteLength}-byte message to ${clip(m.subject, 100)}: ${clip(e.message)}`))
            )
            : Effect.void
        )
      )
    const loop = Queue.take(queue).pipe(
      Effect.flatMap((m) => publishOne(m)),
      Effect.andThen(Effect.sync(() => since.shift())),
      Effect.forever
    )
    const outbox: Outbox = {
      offer: (m) =>
        Clock.currentTimeMillis.pipe(
          Effect.flatMap((now) => Effect.sync(() => since.push(now))),
          Effect.andThen(Queue.offer(queue, m)),
          Effect.asVoid
        ),
      flush: (timeout) =>
        Effect.sync(() => since.length).pipe(
          Effect.repeat({ until: (n) => n === 0, schedule: Schedule.spaced("20 millis") }),
          Effect.as(true),
          Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.succeed(false) })
        ),
      pending: Effect.sync(() => since.length),
      stats: Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const oldest = since[0]
        return { depth: since.length, oldestAgeMs: oldest === undefined ? 0 : Math.max(0, now - oldest), dropped: yield* Ref.get(dropped) }
      })
    }
    return { outbox, loop }
  })
