// Where a node learns that a launch's lease lapsed (its controller is gone: killed, its laptop
// closed, its CI runner lost), as a port. `grid daemon`'s NATS side fills it
// (src/nats/NatsLeaseWatch.ts); a node without a bus (`grid run`) has no leases. The test
// manager stops a leased test with reason `lease_expired` once `expired` completes.
import { Context, type Duration, Effect, Layer } from "effect"

export class LeaseWatch extends Context.Service<LeaseWatch, {
  /** Completes once the lease of `testId` has not been renewed for `lease`; never otherwise. */
  readonly expired: (testId: string, lease: Duration.Duration) => Effect.Effect<void>
}>()("grid/runner/LeaseWatch") {
  /** No bus, no leases: nothing ever expires. */
  static readonly none = Layer.succeed(LeaseWatch, LeaseWatch.of({ expired: () => Effect.never }))
}

/** The reasons a node stops a test by itself, as the `stopped` event says them. */
export const LEASE_EXPIRED = "lease_expired"
export const CONTROL_LOST = "control_lost"
