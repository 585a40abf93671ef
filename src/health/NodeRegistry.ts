// Where heartbeats go: the `grid_nodes` KV bucket in the daemon (src/nats/NatsNodeRegistry.ts),
// memory in tests. One primitive pair: put the node's record, remove it on clean shutdown.
import { Context, Effect, Layer, Ref, Schema } from "effect"
import type { Heartbeat } from "../protocol/health.ts"

export class NodeRegistryError extends Schema.TaggedError<NodeRegistryError>()("NodeRegistryError", {
  message: Schema.String
}) {}

export class NodeRegistry extends Context.Service<NodeRegistry, {
  readonly put: (heartbeat: Heartbeat) => Effect.Effect<void, NodeRegistryError>
  readonly remove: (nodeId: string) => Effect.Effect<void, NodeRegistryError>
}>()("grid/health/NodeRegistry") {
  /** In-memory registry for tests: every put is kept, in order. */
  static readonly memory = (log: Ref.Ref<ReadonlyArray<Heartbeat | { removed: string }>>) =>
    Layer.succeed(
      NodeRegistry,
      NodeRegistry.of({
        put: (hb) => Ref.update(log, (all) => [...all, hb]),
        remove: (nodeId) => Ref.update(log, (all) => [...all, { removed: nodeId }])
      })
    )

  /** Heartbeats nobody reads (`grid run`'s node): kept nowhere. */
  static readonly discard = Layer.succeed(
    NodeRegistry,
    NodeRegistry.of({ put: () => Effect.void, remove: () => Effect.void })
  )
}
