// What readiness needs to know of the node's link to its grid, as a port: whether the
// connection to the bus is up and whether the node's command consumer is open. `grid daemon`'s
// NATS side fills it (src/nats/NatsLinkStatus.ts); `/readyz` reads it. Nothing here knows NATS.
import { Context, Effect, Layer } from "effect"

export class LinkStatus extends Context.Service<LinkStatus, {
  readonly connected: Effect.Effect<boolean>
  readonly consumerOpen: Effect.Effect<boolean>
}>()("grid/health/LinkStatus") {
  /** A node without a bus (in memory) is always linked. */
  static readonly always = Layer.succeed(LinkStatus, LinkStatus.of({ connected: Effect.succeed(true), consumerOpen: Effect.succeed(true) }))
}
