// Creates the protocol's JetStream streams and KV bucket idempotently (daemon and
// controller both call it at start-up) and the node's durable command consumer.
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { Objm } from "@nats-io/obj"
import { nanos } from "@nats-io/transport-node"
import { Duration, Effect, Schedule } from "effect"
import { type Assets, consumerName, type Subjects } from "../protocol/names.ts"
import { describe, NatsConnection, NatsError } from "./NatsConnection.ts"
import { ensureFlagBucket } from "./NatsFlagStore.ts"

const HOUR = 60 * 60 * 1000
const DAY = 24 * HOUR

export interface AssetOptions {
  /** Replicas of what this call creates (`--stream-replicas`); the server's default (1) when
   * absent. Existing assets with fewer are reported, never changed: shrinking or growing a
   * stream is an operator's decision (`nats stream edit`). */
  readonly replicas?: number | undefined
}

/** JetStream answers these while a cluster elects its leaders (start-up, a server lost): the
 * same request a little later succeeds. */
const transient = (e: unknown): boolean =>
  /temporarily unavailable|timeout|timed out|no responders|no suitable peers|insufficient resources/i.test(describe(e))

/** Retries a JetStream request through a cluster's elections (about 30 s), then gives up. */
const throughElections = <A>(what: string, request: () => Promise<A>) =>
  Effect.tryPromise({ try: request, catch: (e) => e }).pipe(
    Effect.retry({ schedule: Schedule.spaced("500 millis").pipe(Schedule.upTo({ duration: "30 seconds" })), while: transient }),
    Effect.mapError((e) => new NatsError({ message: `${what}: ${describe(e)}` }))
  )

/** Says so when an existing asset has fewer replicas than asked for. */
const reportReplicas = (what: string, has: number | undefined, options: AssetOptions) =>
  options.replicas !== undefined && (has ?? 1) < options.replicas
    ? Effect.logWarning(
      `${what} has ${has ?? 1} replica(s), fewer than --stream-replicas ${options.replicas}: left as it is (an operator raises it, e.g. nats stream edit --replicas ${options.replicas})`
    )
    : Effect.void

const ensureStream = (name: string, subject: string, maxAgeMs: number, options: AssetOptions, duplicateWindowMs?: number) =>
  Effect.gen(function*() {
    const { jsm } = yield* NatsConnection
    const find = () => jsm.streams.info(name).then((i) => i, (e) => (/not found/i.test(describe(e)) ? undefined : Promise.reject(e)))
    const existing = yield* throughElections(`cannot read stream ${name}`, find)
    if (existing !== undefined) return yield* reportReplicas(`stream ${name}`, existing.config.num_replicas, options)
    yield* throughElections(`cannot create stream ${name}`, () =>
      jsm.streams.add({
        name,
        subjects: [subject],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        max_age: nanos(maxAgeMs),
        ...(options.replicas !== undefined ? { num_replicas: options.replicas } : {}),
        ...(duplicateWindowMs !== undefined ? { duplicate_window: nanos(duplicateWindowMs) } : {})
      })).pipe(
        // Another node may have created it in between: fine if it now exists.
        Effect.catch((e) =>
          Effect.flatMap(
            throughElections(`cannot create stream ${name}`, find).pipe(Effect.orElseSucceed(() => undefined)),
            (found) => (found !== undefined ? Effect.void : Effect.fail(e))
          )
        )
      )
  })

export const ensureAssets = (assets: Assets, subjects: Subjects, nodeTtl: Duration.Duration, options: AssetOptions = {}) =>
  Effect.gen(function*() {
    yield* ensureStream(assets.control, subjects.controlAll, HOUR, options, 2 * 60 * 1000)
    yield* ensureStream(assets.events, subjects.eventsAll, 7 * DAY, options)
    yield* ensureStream(assets.results, subjects.resultsAll, 7 * DAY, options, 2 * 60 * 1000)
    const kv = yield* bucket(assets.nodes, Duration.toMillis(nodeTtl), options)
    const status = yield* Effect.tryPromise({
      try: () => kv.status(),
      catch: (e) => new NatsError({ message: `cannot read KV bucket ${assets.nodes}: ${describe(e)}` })
    })
    // Leases: a key per leased test, renewed by its launch; an abandoned key goes with the
    // bucket TTL (2.9 has no per-key TTL: nodes judge a lease by when its revision last changed).
    const leases = yield* bucket(assets.leases, HOUR, options)
    // Emergency stops live a day, longer than a test's default bound (--max-duration 24h).
    const stops = yield* bucket(assets.stops, DAY, options)
    // Live flags (`grid flags`): 20 revisions per key, no TTL. Created here too, so a node whose
    // credentials cannot create buckets finds it once any controller ran.
    yield* ensureFlagBucket(assets.flags).pipe(Effect.mapError((e) => new NatsError({ message: e.message })))
    // Screenshots and other files nodes keep from tests: a week, like the events listing them.
    yield* ensureObjectStore(assets.artifacts, 7 * DAY, options)
    return { kv, bucketTtlMs: status.ttl, leases, stops }
  })

const bucket = (name: string, ttlMs: number, options: AssetOptions = {}) =>
  Effect.gen(function*() {
    const { nc } = yield* NatsConnection
    const kv = yield* throughElections(
      `cannot create KV bucket ${name}`,
      () => new Kvm(nc).create(name, { history: 1, ttl: ttlMs, ...(options.replicas !== undefined ? { replicas: options.replicas } : {}) })
    )
    if (options.replicas !== undefined) {
      const status = yield* throughElections(`cannot read KV bucket ${name}`, () => kv.status())
      yield* reportReplicas(`KV bucket ${name}`, status.replicas, options)
    }
    return kv
  })

/** An object store (stream OBJ_<name>) created when absent; an existing one is left as it is,
 * so a node whose credentials only look assets up finds the one a controller made. */
export const ensureObjectStore = (name: string, ttlMs: number, options: AssetOptions = {}) =>
  Effect.gen(function*() {
    const { nc, jsm } = yield* NatsConnection
    const find = () => jsm.streams.info(`OBJ_${name}`).then((i) => i, (e) => (/not found/i.test(describe(e)) ? undefined : Promise.reject(e)))
    const existing = yield* throughElections(`cannot read object store ${name}`, find)
    if (existing !== undefined) return yield* reportReplicas(`object store ${name}`, existing.config.num_replicas, options)
    yield* throughElections(`cannot create object store ${name}`, () =>
      new Objm(nc).create(name, {
        ttl: nanos(ttlMs),
        storage: StorageType.File,
        ...(options.replicas !== undefined ? { replicas: options.replicas } : {})
      }))
  })

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
