// The node cut off from its control plane: a worker that watches the link to the bus
// (LinkStatus) and, once it has been down for `--control-loss-timeout` (2 min by default; 0
// turns it off), stops every running test with reason `control_lost`. Nobody can stop a test
// on a node nobody reaches, so the node stops it itself. The tests end as a stop ends them
// (grace, cleanup); their results and terminal events wait in the outbox (and the result
// spill) and go out when the bus returns. The node keeps accepting once it is back.
import { Clock, Duration, Effect, Option, Schedule } from "effect"
import { LinkStatus } from "../health/LinkStatus.ts"
import { CONTROL_LOST } from "../runner/LeaseWatch.ts"
import { TestManager } from "../runner/TestManager.ts"

/** How often the link is looked at: the stop comes at most this late after the timeout. */
const CHECK_EVERY = Duration.millis(250)

export const controlLossWatch = Effect.fn("daemon.controlLossWatch")(function*(timeout: Duration.Duration) {
  const link = yield* Effect.serviceOption(LinkStatus)
  if (Option.isNone(link) || Duration.toMillis(timeout) <= 0) return yield* Effect.never
  const manager = yield* TestManager
  const timeoutMs = Duration.toMillis(timeout)
  /** When the current outage began; undefined while connected. */
  let downSince: number | undefined
  /** The current outage has been acted on: once per outage. */
  let acted = false
  yield* Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (yield* link.value.connected) {
      if (acted) yield* Effect.logInfo(`control plane back after ${((now - (downSince ?? now)) / 1000).toFixed(1)} s`)
      downSince = undefined
      acted = false
      return
    }
    downSince ??= now
    if (acted || now - downSince < timeoutMs) return
    acted = true
    const stopped = yield* manager.stopTests({ reason: CONTROL_LOST })
    yield* Effect.logWarning(
      `no control plane for ${Duration.format(timeout)} (--control-loss-timeout): ${stopped.length === 0 ? "no test to stop" : `stopping ${stopped.join(", ")}`}`
    )
  }).pipe(Effect.repeat(Schedule.spaced(CHECK_EVERY)))
})
