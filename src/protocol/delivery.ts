// How the node delivers what it publishes in order (events, result windows): one retry policy
// for both, so a NATS outage is ridden out the same way everywhere. Quick at first (a blip
// costs a tenth of a second), then a steady pace that does not hammer a server coming back.
import { Duration, Schedule } from "effect"

export interface RetryOptions {
  /** The first delay; it doubles on each failure (default 100 ms). */
  readonly first?: Duration.Input | undefined
  /** The longest delay between two tries (default 2 s). */
  readonly max?: Duration.Input | undefined
}

/** Exponential from `first`, doubling, capped at `max`; forever (callers decide what ends it). */
export const publishRetry = (options: RetryOptions = {}) =>
  Schedule.min([
    Schedule.exponential(Duration.fromInputUnsafe(options.first ?? "100 millis"), 2),
    Schedule.spaced(Duration.fromInputUnsafe(options.max ?? "2 seconds"))
  ])
