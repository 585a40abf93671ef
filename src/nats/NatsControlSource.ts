// ControlSource over JetStream: the node's durable consumer on GRID_CONTROL, consumed as a
// Stream. A reconnect, or an iterator that ends (consumer lost, server replaced), reopens the
// consumer with backoff rather than failing the node; unacked commands are redelivered and the
// TestManager's dedup keeps them from acting twice.
import type { JsMsg } from "@nats-io/jetstream"
import { Effect, Layer, Ref, Schedule, Stream } from "effect"
import { type ControlMessage, ControlSource, ControlSourceError } from "../control/ControlSource.ts"
import { describe, NatsConnection } from "./NatsConnection.ts"

const toMessage = (m: JsMsg): ControlMessage => ({
  data: m.data,
  redelivered: m.redelivered,
  deliveryCount: m.info.deliveryCount,
  ack: Effect.sync(() => m.ack()),
  term: Effect.sync(() => m.term())
})

/** `open` is kept true while a consume() is open (readiness reads it, NatsLinkStatus.ts). */
export const natsControlSourceLayer = (
  stream: string,
  consumer: string,
  ensureConsumer: Effect.Effect<unknown, unknown, NatsConnection>,
  open: Ref.Ref<boolean>
) =>
  Layer.effect(
    ControlSource,
    Effect.gen(function*() {
      const conn = yield* NatsConnection
      const opened = Stream.unwrap(
        Effect.gen(function*() {
          yield* ensureConsumer.pipe(Effect.provideService(NatsConnection, conn), Effect.mapError((e) => new ControlSourceError({ message: describe(e) })))
          const c = yield* Effect.tryPromise({
            try: () => conn.js.consumers.get(stream, consumer),
            catch: (e) => new ControlSourceError({ message: `cannot open consumer ${consumer}: ${describe(e)}` })
          })
          const messages = yield* Effect.acquireRelease(
            Effect.tryPromise({
              // Short pull expiry and heartbeats: a restarted server forgets pending pulls.
              try: () => c.consume({ max_messages: 16, expires: 10_000, idle_heartbeat: 2_000 }),
              catch: (e) => new ControlSourceError({ message: `cannot consume ${consumer}: ${describe(e)}` })
            }),
            (m) => Ref.set(open, false).pipe(Effect.andThen(Effect.promise(() => m.close().then(() => undefined, () => undefined))))
          )
          yield* Ref.set(open, true)
          yield* Stream.fromAsyncIterable(messages.status(), () => undefined).pipe(
            Stream.runForEach((s) => Effect.logDebug(`control consumer status: ${JSON.stringify(s)}`)),
            Effect.ignore,
            Effect.forkScoped
          )
          // After a reconnect, reopen at once instead of waiting for the old pull to expire.
          yield* Stream.fromAsyncIterable(conn.nc.status(), () => undefined).pipe(
            Stream.filter((s) => s.type === "reconnect"),
            Stream.take(1),
            Stream.runDrain,
            Effect.andThen(Ref.set(open, false)),
            Effect.andThen(Effect.promise(() => messages.close().then(() => undefined, () => undefined))),
            Effect.ignore,
            Effect.forkScoped
          )
          return Stream.fromAsyncIterable(messages, (e) => new ControlSourceError({ message: describe(e) }))
        })
      ).pipe(Stream.map(toMessage))
      // An ended iterator is not the end of the node: reopen (bounded backoff, forever).
      const resilient = opened.pipe(
        Stream.concat(Stream.fail(new ControlSourceError({ message: "consumer iterator ended" }))),
        Stream.tapError((e) => Ref.set(open, false).pipe(Effect.andThen(Effect.logWarning(`control consumer: ${e.message}; reopening`)))),
        Stream.retry(Schedule.min([Schedule.exponential("200 millis", 2), Schedule.spaced("5 seconds")]))
      )
      return ControlSource.of({ messages: resilient })
    })
  )
