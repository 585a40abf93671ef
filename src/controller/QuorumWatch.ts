// A launch's watch on JetStream itself. When a NATS cluster loses a majority of its servers,
// nothing fails: publishes and reads wait, heartbeats stop being stored, and the launch would
// only see its nodes fall silent one by one. This watch asks the bus (Primitives'
// `jetStreamProblem`) every few seconds and, once the same kind of trouble has lasted longer
// than a leader election takes, says what it is so the launch fails with that reason.
import { Duration, Effect } from "effect"
import type { Primitives } from "./NodeBus.ts"

export interface QuorumWatchOptions {
  /** Between two probes. Default 2 s. */
  readonly every?: Duration.Input | undefined
  /** How long JetStream must stay unable before the launch gives up: longer than an election
   * after one server of three is lost (a few seconds). Default 10 s. */
  readonly grace?: Duration.Input | undefined
}

/** Completes with the problem once it has lasted `grace`; never completes while JetStream is
 * healthy or when the bus has no probe. */
export const quorumLost = (p: Primitives, options: QuorumWatchOptions = {}): Effect.Effect<string> => {
  const probe = p.jetStreamProblem
  if (probe === undefined) return Effect.never
  const graceMs = Duration.toMillis(Duration.fromInputUnsafe(options.grace ?? "10 seconds"))
  const every = options.every ?? "2 seconds"
  return Effect.gen(function*() {
    let since: number | undefined
    for (;;) {
      const problem = yield* probe
      const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
      if (problem === undefined) since = undefined
      else {
        since ??= now
        if (now - since >= graceMs) return `NATS JetStream unavailable for ${Math.round((now - since) / 1000)} s: ${problem}`
      }
      yield* Effect.sleep(every)
    }
  })
}
