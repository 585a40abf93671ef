// Emergency stop orders (`grid stop --all`) as a port, and the node's worker that obeys them.
// The source replays every stored order when it opens and after every reconnect, then the new
// ones live (src/nats/NatsStopOrders.ts); a node without a bus has none. An order for this node,
// the first time the node sees it, stops, through the test manager's stop path and with the node's grace, every test it took
// before the order (with CLOCK_SLACK_MS of slack): a node that comes back from an outage still
// obeys an order younger than its test, and a test launched after the order runs.
import { Context, Effect, Layer, Stream } from "effect"
import { CLOCK_SLACK_MS, EMERGENCY_REASON, orderMatches, type StopOrder } from "../protocol/stopOrders.ts"
import { TestManager } from "../runner/TestManager.ts"

export class StopOrderSource extends Context.Service<StopOrderSource, {
  /** Every stored order, again after each reconnect, then new ones; never fails (it retries). */
  readonly orders: Stream.Stream<StopOrder>
}>()("grid/control/StopOrderSource") {
  static readonly none = Layer.succeed(StopOrderSource, StopOrderSource.of({ orders: Stream.never }))
}

/** How many order ids are remembered (orders live a day in the bucket). */
const REMEMBERED = 10_000

export interface StopOrderOptions {
  readonly nodeId: string
  readonly gridId: string
  readonly channel: string
}

export const stopOrderListener = Effect.fn("control.stopOrders")(function*(node: StopOrderOptions) {
  const source = yield* Effect.serviceOption(StopOrderSource)
  if (source._tag === "None") return yield* Effect.never
  const manager = yield* TestManager
  // An order is acted on when first seen only: the replay after a reconnect must not apply an
  // order this node already obeyed to a test it took since (within the clock slack).
  const seen = new Set<string>()
  yield* source.value.orders.pipe(
    Stream.filter((order) => {
      if (seen.has(order.orderId)) return false
      seen.add(order.orderId)
      if (seen.size > REMEMBERED) seen.delete(seen.values().next().value!)
      return orderMatches(order, node)
    }),
    Stream.runForEach((order) =>
      Effect.gen(function*() {
        const stopped = yield* manager.stopTests({
          reason: order.reason ?? EMERGENCY_REASON,
          before: Date.parse(order.at) + CLOCK_SLACK_MS,
          commandId: order.orderId
        })
        if (stopped.length > 0) yield* Effect.logWarning(`emergency stop ${order.orderId}: stopping ${stopped.join(", ")}`)
      })
    )
  )
  return yield* Effect.never
})
