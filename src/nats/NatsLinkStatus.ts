// LinkStatus over the node's NATS connection: "connected" follows the client's status stream
// (down at `disconnect`, up again at `reconnect`, down for good once closed), and each
// reconnect is counted for Prometheus; "consumer open" is the flag the control source keeps
// (NatsControlSource.ts sets it when its consumer opens and clears it when it ends or fails).
import { Effect, Layer, Ref, Stream } from "effect"
import * as Metric from "effect/Metric"
import { LinkStatus } from "../health/LinkStatus.ts"
import { count, natsConnected, natsReconnects } from "../health/NodeMetrics.ts"
import { NatsConnection } from "./NatsConnection.ts"

export const natsLinkStatusLayer = (consumerOpen: Ref.Ref<boolean>) =>
  Layer.effect(
    LinkStatus,
    Effect.gen(function*() {
      const { nc } = yield* NatsConnection
      const up = yield* Ref.make(!nc.isClosed())
      const set = (value: boolean) => Ref.set(up, value).pipe(Effect.andThen(Metric.update(natsConnected, value ? 1 : 0)))
      yield* set(!nc.isClosed())
      yield* Stream.fromAsyncIterable(nc.status(), () => undefined).pipe(
        Stream.runForEach((s) =>
          s.type === "disconnect" || s.type === "close"
            ? set(false)
            : s.type === "reconnect"
            ? Effect.andThen(set(true), count(natsReconnects))
            : Effect.void
        ),
        Effect.ignore,
        Effect.forkScoped
      )
      return LinkStatus.of({
        connected: Effect.map(Ref.get(up), (u) => u && !nc.isClosed()),
        consumerOpen: Ref.get(consumerOpen)
      })
    })
  )
