// Creates the protocol's JetStream streams and KV bucket idempotently (daemon and
// controller both call it at start-up) and the node's durable command consumer.
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { nanos } from "@nats-io/transport-node"
import { Duration, Effect } from "effect"
import { type Assets, consumerName, type Subjects } from "../protocol/names.ts"
import { describe, NatsConnection, NatsError } from "./NatsConnection.ts"
import { ensureFlagBucket } from "./NatsFlagStore.ts"

const HOUR = 60 * 60 * 1000
const DAY = 24 * HOUR

const ensureStream = (name: string, subject: string, maxAgeMs: number, duplicateWindowMs?: number) =>
  Effect.gen(function*() {
    const { jsm } = yield* NatsConnection
    const exists = yield* Effect.promise(() => jsm.streams.info(name).then(() => true, () => false))
    if (exists) return
    yield* Effect.tryPromise({
      try: () =>
        jsm.streams.add({
          name,
          subjects: [subject],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          max_age: nanos(maxAgeMs),
          ...(duplicateWindowMs !== undefined ? { duplicate_window: nanos(duplicateWindowMs) } : {})
        }),
      catch: (e) => e
    }).pipe(
      // Another node may have created it in between: fine if it now exists.
      Effect.catch((e) =>
        Effect.flatMap(
          Effect.promise(() => jsm.streams.info(name).then(() => true, () => false)),
          (ok) => (ok ? Effect.void : Effect.fail(new NatsError({ message: `cannot create stream ${name}: ${describe(e)}` })))
        )
      )
    )
  })

export const ensureAssets = (assets: Assets, subjects: Subjects, nodeTtl: Duration.Duration) =>
  Effect.gen(function*() {
    yield* ensureStream(assets.control, subjects.controlAll, HOUR, 2 * 60 * 1000)
    yield* ensureStream(assets.events, subjects.eventsAll, 7 * DAY)
    yield* ensureStream(assets.results, subjects.resultsAll, 7 * DAY, 2 * 60 * 1000)
    const { nc } = yield* NatsConnection
    const kv = yield* Effect.tryPromise({
      try: () => new Kvm(nc).create(assets.nodes, { history: 1, ttl: Duration.toMillis(nodeTtl) }),
      catch: (e) => new NatsError({ message: `cannot create KV bucket ${assets.nodes}: ${describe(e)}` })
    })
    const status = yield* Effect.tryPromise({
      try: () => kv.status(),
      catch: (e) => new NatsError({ message: `cannot read KV bucket ${assets.nodes}: ${describe(e)}` })
    })
    // Leases: a key per leased test, renewed by its launch; an abandoned key goes with the
    // bucket TTL (2.9 has no per-key TTL: nodes judge a lease by when its revision last changed).
    const leases = yield* bucket(assets.leases, HOUR)
    // Emergency stops live a day, longer than a test's default bound (--max-duration 24h).
    const stops = yield* bucket(assets.stops, DAY)
    // Live flags (`grid flags`): 20 revisions per key, no TTL. Created here too, so a node whose
    // credentials cannot create buckets finds it once any controller ran.
    yield* ensureFlagBucket(assets.flags).pipe(Effect.mapError((e) => new NatsError({ message: e.message })))
    return { kv, bucketTtlMs: status.ttl, leases, stops }
  })

const bucket = (name: string, ttlMs: number) =>
  Effect.flatMap(NatsConnection, ({ nc }) =>
    Effect.tryPromise({
      try: () => new Kvm(nc).create(name, { history: 1, ttl: ttlMs }),
      catch: (e) => new NatsError({ message: `cannot create KV bucket ${name}: ${describe(e)}` })
    }))

/** The node's durable consumer on the control stream: created or left as it is. */
export const ensureNodeConsumer = (assets: Assets, subjects: Subjects, nodeId: string) =>
  Effect.gen(function*() {
    const { jsm } = yield* NatsConnection
    const name = consumerName(nodeId)
    const exists = yield* Effect.promise(() => jsm.consumers.info(assets.control, name).then(() => true, () => false))
    if (exists) return name
    yield* Effect.tryPromise({
      try: () =>
        jsm.consumers.add(assets.control, {
          durable_name: name,
          ack_policy: AckPolicy.Explicit,
          // A brand-new consumer starts at new commands: replaying an hour of old starts
          // addressed to a reused node id could launch tests nobody expects.
          deliver_policy: DeliverPolicy.New,
          filter_subject: subjects.control(nodeId),
          inactive_threshold: nanos(DAY),
          ack_wait: nanos(30_000),
          max_deliver: -1
        }),
      catch: (e) => new NatsError({ message: `cannot create consumer ${name}: ${describe(e)}` })
    })
    return name
  })
