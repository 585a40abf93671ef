// StopOrderSource over KV `grid_stops`: a watch of every key (the last value of each, then
// every put), opened again after each reconnect so a node that was away replays the orders it
// missed (the watch's ordered consumer forgets its place when the server restarts). Each value
// goes through the StopOrder Schema; one that does not decode is skipped with a warning.
import type { KV } from "@nats-io/kv"
import { Effect, Layer, Result, Schedule, Stream } from "effect"
import { StopOrderSource } from "../control/StopOrders.ts"
import { readStopOrder, type StopOrder } from "../protocol/stopOrders.ts"
import { describe, NatsConnection } from "./NatsConnection.ts"

interface WatchEntry {
  readonly key: string
  readonly operation: string
  string(): string
}

export const natsStopOrdersLayer = (stops: KV) =>
  Layer.effect(
    StopOrderSource,
    Effect.gen(function*() {
      const { nc } = yield* NatsConnection
      const watchOnce: Stream.Stream<StopOrder, Error> = Stream.unwrap(
        Effect.gen(function*() {
          const it = yield* Effect.acquireRelease(
            Effect.tryPromise({ try: () => stops.watch(), catch: (e) => new Error(`cannot watch stop orders: ${describe(e)}`) }),
            (it) => Effect.sync(() => (it as unknown as { stop: () => void }).stop())
          )
          return Stream.fromAsyncIterable(it as AsyncIterable<WatchEntry>, (e) => new Error(describe(e))).pipe(
            Stream.filter((e) => e.operation === "PUT"),
            Stream.mapEffect((e) => {
              const read = readStopOrder(e.string())
              return Result.isSuccess(read)
                ? Effect.succeed([read.success])
                : Effect.logWarning(`skipped stop order ${e.key}: ${read.failure}`).pipe(Effect.as([]))
            }),
            Stream.flatMap(Stream.fromIterable)
          )
        })
      )
      const reconnects = Stream.fromAsyncIterable(nc.status(), () => undefined).pipe(
        Stream.filter((s) => s.type === "reconnect"),
        Stream.catch(() => Stream.empty)
      )
      const orders = Stream.concat(Stream.make("open" as const), Stream.map(reconnects, () => "reopen" as const)).pipe(
        Stream.switchMap(() =>
          watchOnce.pipe(
            Stream.tapError((e) => Effect.logWarning(`${e.message}; reopening`)),
            Stream.retry(Schedule.min([Schedule.exponential("200 millis", 2), Schedule.spaced("5 seconds")]))
          )
        ),
        Stream.catch(() => Stream.never)
      )
      return StopOrderSource.of({ orders })
    })
  )
