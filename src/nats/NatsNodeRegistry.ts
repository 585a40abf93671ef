// NodeRegistry over the `grid_nodes` KV bucket: a put per heartbeat, a delete on shutdown.
import type { KV } from "@nats-io/kv"
import { Effect, Layer } from "effect"
import { NodeRegistry, NodeRegistryError } from "../health/NodeRegistry.ts"
import { describe } from "./NatsConnection.ts"

export const natsNodeRegistryLayer = (kv: KV) =>
  Layer.succeed(
    NodeRegistry,
    NodeRegistry.of({
      put: (hb) =>
        Effect.tryPromise({
          try: () => kv.put(hb.nodeId, JSON.stringify(hb)),
          catch: (e) => new NodeRegistryError({ message: `heartbeat not stored: ${describe(e)}` })
        }).pipe(Effect.asVoid),
      remove: (nodeId) =>
        Effect.tryPromise({
          try: () => kv.delete(nodeId),
          catch: (e) => new NodeRegistryError({ message: `heartbeat not removed: ${describe(e)}` })
        })
    })
  )
