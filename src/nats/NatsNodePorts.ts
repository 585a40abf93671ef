// The four ports of a grid node over NATS, as one Layer: the connection (drained last), the
// protocol's JetStream assets (created idempotently), the node's durable command consumer, the
// event outbox (flushed on release), the result transport, the heartbeat registry, the
// launch leases, the emergency stop orders, the live flags (KV grid_flags), the artifact store
// (object store grid_artifacts: a test's screenshots) and the link status readiness reads. The
// node itself (src/daemon/GridNode.ts) knows none of this: it sees only the ports.
import { Duration, Effect, Layer, Ref } from "effect"
import { assets as assetNames, consumerName, nodeInboxPrefix, subjects as subjectNames } from "../protocol/names.ts"
import { ensureAssets, ensureNodeConsumer } from "./JetStreamAssets.ts"
import { natsArtifactStoreLayer } from "./NatsArtifactStore.ts"
import type { NatsAuth } from "./NatsAuth.ts"
import { NatsConnection } from "./NatsConnection.ts"
import { natsControlSourceLayer } from "./NatsControlSource.ts"
import { natsEventSinkLayer } from "./NatsEventSink.ts"
import { natsFlagStoreLayer } from "./NatsFlagStore.ts"
import { natsLeaseWatchLayer } from "./NatsLeaseWatch.ts"
import { natsLinkStatusLayer } from "./NatsLinkStatus.ts"
import { natsNodeRegistryLayer } from "./NatsNodeRegistry.ts"
import { natsResultTransportLayer } from "./NatsResultTransport.ts"
import { natsStopOrdersLayer } from "./NatsStopOrders.ts"

export interface NatsPortsOptions {
  readonly natsUrl: string
  readonly nats: NatsAuth
  /** Replicas of the assets created here (a cluster: 3); existing ones are only reported. */
  readonly streamReplicas?: number | undefined
  readonly nodeId: string
  readonly subjectPrefix: string
  /** Bucket TTL used when this node creates `grid_nodes`. */
  readonly nodeTtl: Duration.Duration
  /** Checked against the bucket's TTL: a node must beat several times per TTL. */
  readonly heartbeatInterval: Duration.Duration
  /** How long releasing waits for queued events to reach JetStream. */
  readonly flushTimeout: Duration.Duration
}

export const natsNodePorts = (options: NatsPortsOptions) => {
  const subjects = subjectNames(options.subjectPrefix)
  const assets = assetNames(options.subjectPrefix)
  const ports = Layer.unwrap(Effect.gen(function*() {
    const { kv, bucketTtlMs, leases, stops } = yield* ensureAssets(assets, subjects, options.nodeTtl, { replicas: options.streamReplicas })
    if (bucketTtlMs > 0 && Duration.toMillis(options.heartbeatInterval) > bucketTtlMs / 3) {
      yield* Effect.logWarning(
        `heartbeat interval ${Duration.format(options.heartbeatInterval)} is more than a third of the ${assets.nodes} bucket's TTL (${bucketTtlMs} ms): controllers may see this node as lost between heartbeats`
      )
    }
    const consumerOpen = yield* Ref.make(false)
    return Layer.mergeAll(
      natsLinkStatusLayer(consumerOpen),
      natsEventSinkLayer(subjects, options.flushTimeout),
      natsNodeRegistryLayer(kv),
      natsControlSourceLayer(assets.control, consumerName(options.nodeId), ensureNodeConsumer(assets, subjects, options.nodeId), consumerOpen),
      natsResultTransportLayer(subjects),
      natsLeaseWatchLayer(leases),
      natsStopOrdersLayer(stops),
      natsFlagStoreLayer(assets.flags),
      natsArtifactStoreLayer(assets.artifacts, options.nodeId)
    )
  }))
  return ports.pipe(
    Layer.provide(NatsConnection.layer({ url: options.natsUrl, auth: options.nats, name: `grid-node-${options.nodeId}`, inboxPrefix: nodeInboxPrefix(options.nodeId) }))
  )
}
