// LeaseWatch over the `grid_leases` KV bucket: the launch puts key `<testId>` every few
// seconds; the node reads the key and notes, on its own clock, when its revision last changed.
// Only a change counts (never the entry's timestamp), so the controller's and the server's
// clocks do not matter. A read that fails (NATS away) is no renewal: a leased test never
// outlives its controller by more than its lease, with or without the bus.
import type { KV } from "@nats-io/kv"
import { Clock, Duration, Effect, Layer } from "effect"
import { LeaseWatch } from "../runner/LeaseWatch.ts"

/** How long one read may take before it counts as no answer. */
const READ_TIMEOUT = Duration.seconds(2)

export const natsLeaseWatchLayer = (leases: KV) =>
  Layer.succeed(LeaseWatch, LeaseWatch.of({
    expired: (testId, lease) =>
      Effect.gen(function*() {
        const leaseMs = Duration.toMillis(lease)
        // Several reads per lease, at most one a second: expiry is seen within a second.
        const every = Duration.millis(Math.max(100, Math.min(1000, leaseMs / 4)))
        let revision: number | undefined
        let renewedAt = yield* Clock.currentTimeMillis
        for (;;) {
          const entry = yield* Effect.tryPromise(() => leases.get(testId)).pipe(
            Effect.timeout(READ_TIMEOUT),
            Effect.orElseSucceed(() => undefined)
          )
          const now = yield* Clock.currentTimeMillis
          if (entry !== undefined && entry !== null && entry.operation === "PUT" && entry.revision !== revision) {
            revision = entry.revision
            renewedAt = now
          }
          if (now - renewedAt >= leaseMs) return
          yield* Effect.sleep(every)
        }
      }).pipe(Effect.withSpan("lease.watch", { attributes: { "grid.test_id": testId } }))
  }))
