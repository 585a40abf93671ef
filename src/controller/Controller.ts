// The controller as an Effect service: the other end of docs/protocol.md for the `grid`
// commands and for programs that embed it. One primitive per concern (list and watch nodes,
// send a command, follow a test's events, follow its results, read a test's history) over
// NATS, and the flows built from them (Flows.ts): launch, stop, and a report rebuilt from the
// streams. `layerPrimitives` puts the same flows over another bus (MemoryBus.ts).
import { DeliverPolicy, type JsMsg } from "@nats-io/jetstream"
import type { KV } from "@nats-io/kv"
import { Clock, Context, Duration, Effect, Layer, Stream } from "effect"
import * as crypto from "node:crypto"
import type { NatsAuth } from "../nats/NatsAuth.ts"
import { ensureAssets } from "../nats/JetStreamAssets.ts"
import { ensureFlagBucket } from "../nats/NatsFlagStore.ts"
import { decodeFlag, flagDef, keyOf } from "../flags/FlagRegistry.ts"
import { jetStreamProblem as jetStreamProblemOf } from "../nats/JetStreamHealth.ts"
import { resilientFollow } from "../nats/ResilientFollow.ts"
import { resilientKvWatch } from "../nats/ResilientKvWatch.ts"
import { describe, NatsConnection } from "../nats/NatsConnection.ts"
import { assets as assetNames, subjects as subjectNames } from "../protocol/names.ts"
import { type Flows, flows } from "./Flows.ts"
import { GridLaunchError } from "./Launch.ts"
import { ControllerError, type NodeChange, type Primitives, type WireEvent } from "./NodeBus.ts"
import { eventOf, heartbeatOf, windowOf } from "./WireReader.ts"
import { type NodeInfo, SelectionError } from "./Selection.ts"

export interface ControllerSettings {
  readonly url: string
  readonly auth?: NatsAuth | undefined
  readonly subjectPrefix?: string | undefined
  /** Bucket TTL used if this controller is the first to create `grid_nodes`. */
  readonly nodeTtl?: Duration.Duration | undefined
  /** Replicas of the JetStream assets this controller creates (`--stream-replicas`). */
  readonly streamReplicas?: number | undefined
}

export type ControllerShape = Primitives & Flows

export class Controller extends Context.Service<Controller, ControllerShape>()("grid/controller/Controller") {
  /** Over any NodeBus implementation (MemoryBus.ts in tests). */
  static readonly layerPrimitives = (primitives: Primitives) => Layer.succeed(Controller, Controller.of({ ...primitives, ...flows(primitives) }))
  /** Needs a NatsConnection (see `layerNats` for one built from settings). */
  static readonly layer = (settings: Omit<ControllerSettings, "url" | "auth"> = {}) =>
    Layer.effect(Controller, make(settings))
  /** The controller with its own NATS connection. */
  static readonly layerNats = (settings: ControllerSettings) =>
    Controller.layer(settings).pipe(
      Layer.provide(NatsConnection.layer({ url: settings.url, auth: settings.auth ?? {}, name: `grid-controller-${process.pid}` }))
    )
}

const fail = (what: string) => (e: unknown) => new ControllerError({ message: `${what}: ${describe(e)}` })

/** A stream over a nats.js iterator, closed with the stream. */
const iterate = <I, A>(
  what: string,
  open: () => Promise<AsyncIterable<I>>,
  close: (it: AsyncIterable<I>) => Promise<unknown> | void,
  map: (i: I) => Effect.Effect<A | undefined>
): Stream.Stream<A, ControllerError> =>
  Stream.unwrap(
    Effect.gen(function*() {
      const it = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: open, catch: fail(what) }),
        // Not awaited: a consumer's close never settles while NATS is away, and the scope
        // (a launch's, Ctrl-C) must close anyway.
        (it) => Effect.sync(() => void Promise.resolve(close(it)).catch(() => undefined))
      )
      return Stream.fromAsyncIterable(it, fail(what)).pipe(
        Stream.mapEffect(map),
        Stream.filter((a): a is A => a !== undefined)
      )
    })
  )

const make = (settings: Omit<ControllerSettings, "url" | "auth">) =>
  Effect.gen(function*() {
    const conn = yield* NatsConnection
    const prefix = settings.subjectPrefix ?? "grid"
    const assets = assetNames(prefix)
    const subjects = subjectNames(prefix)
    const { kv, bucketTtlMs, leases, stops } = yield* ensureAssets(assets, subjects, settings.nodeTtl ?? Duration.seconds(15), { replicas: settings.streamReplicas }).pipe(
      Effect.provideService(NatsConnection, conn),
      Effect.mapError((e) => new ControllerError({ message: e.message }))
    )
    const { js } = conn
    // The flags bucket exists once a controller ran (a node's credentials may only read it).
    const flagsKv = yield* ensureFlagBucket(assets.flags).pipe(
      Effect.provideService(NatsConnection, conn),
      Effect.mapError((e) => new ControllerError({ message: e.message }))
    )

    const nodes: ControllerShape["nodes"] = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      listNodes(kv, assets.nodes, now))

    // Reopened after a reconnect or half a TTL of silence: a plain kv.watch() can stall for good
    // when a cluster loses the server it was on, and live nodes would be declared lost.
    const watchNodes: ControllerShape["watchNodes"] = Stream.unwrap(resilientKvWatch(conn.nc, kv, { stallMs: Math.max(3_000, bucketTtlMs / 2) })).pipe(
      Stream.mapEffect((e): Effect.Effect<NodeChange | undefined> =>
        e.operation !== "PUT"
          ? Effect.succeed({ op: "delete", nodeId: e.key })
          : Effect.map(heartbeatOf(`${assets.nodes}.${e.key}`, e.string()), (hb) => (hb ? { op: "put", nodeId: e.key, heartbeat: hb } : undefined))),
      Stream.filter((c): c is NodeChange => c !== undefined)
    )

    const send: ControllerShape["send"] = (nodeId, command) => {
      const commandId = command.commandId ?? crypto.randomUUID()
      return Effect.tryPromise({
        try: () => js.publish(subjects.control(nodeId), JSON.stringify({ ...command, commandId }), { msgID: commandId }),
        catch: fail(`cannot send ${command.kind} to ${nodeId}`)
      }).pipe(Effect.as(commandId))
    }

    // Reopened from the next stream sequence after a reconnect or 2 s of silence: an ordered
    // consumer can stall for good when a cluster loses its server with the stream's leader.
    const follow = <A>(stream: string, subject: string, read: (where: string, text: string) => Effect.Effect<A | undefined>): Stream.Stream<A, ControllerError> =>
      Stream.unwrap(resilientFollow(conn.nc, js, stream, subject, { stallMs: 2_000 })).pipe(
        Stream.mapEffect((m: JsMsg) => read(m.subject, m.string())),
        Stream.filter((a): a is A => a !== undefined)
      )
    const events = (testId: string) => follow(assets.events, `${prefix}.events.${testId}.>`, eventOf)
    const results = (testId: string) => follow(assets.results, `${prefix}.results.${testId}.>`, windowOf)

    /** Everything stored on `subject` so far, read to the end (not followed). */
    const readAll = <A>(stream: string, subject: string, read: (where: string, text: string) => Effect.Effect<A | undefined>) =>
      Effect.gen(function*() {
        const what = `cannot read ${subject}`
        const consumer = yield* Effect.tryPromise({
          try: () => js.consumers.get(stream, { filter_subjects: subject, deliver_policy: DeliverPolicy.All }),
          catch: fail(what)
        })
        const info = yield* Effect.tryPromise({ try: () => consumer.info(), catch: fail(what) })
        if (info.num_pending === 0) return [] as Array<A>
        const collected = yield* iterate(
          what,
          () => consumer.consume({ max_messages: 1024 }),
          (it) => (it as unknown as { close: () => Promise<unknown> }).close(),
          (m: JsMsg) => Effect.succeed(m)
        ).pipe(
          Stream.takeUntil((m) => m.info.pending === 0),
          Stream.runCollect
        )
        const read_ = yield* Effect.forEach(collected, (m) => read(m.subject, m.string()))
        return read_.filter((a): a is A => a !== undefined)
      })
    const history: ControllerShape["history"] = (testId) =>
      Effect.all({
        events: readAll(assets.events, `${prefix}.events.${testId}.>`, eventOf),
        windows: readAll(assets.results, `${prefix}.results.${testId}.>`, windowOf)
      }, { concurrency: 2 })

    const renewLease: NonNullable<ControllerShape["renewLease"]> = (testId, leaseSeconds) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({
          try: () => leases.put(testId, JSON.stringify({ testId, leaseSeconds, renewedAt: new Date(now).toISOString(), pid: process.pid })),
          catch: fail(`cannot renew the lease of ${testId}`)
        })).pipe(Effect.asVoid)

    const putStopOrder: NonNullable<ControllerShape["putStopOrder"]> = (order) =>
      Effect.tryPromise({
        try: () => stops.put(order.orderId, JSON.stringify(order)),
        catch: fail("cannot store the stop order")
      }).pipe(Effect.asVoid)

    const jetStreamProblem = jetStreamProblemOf(conn.nc, conn.jsm, [assets.results, assets.events, assets.control])

    const launchChannel: NonNullable<ControllerShape["launchChannel"]> = (gridId) =>
      Effect.gen(function*() {
        const key = keyOf({ scope: "grid", target: gridId, flag: "launch.channel" })
        const entry = yield* Effect.tryPromise({ try: () => flagsKv.get(key), catch: fail(`cannot read ${assets.flags} ${key}`) })
        if (entry === null || entry.operation !== "PUT") return undefined
        const read = decodeFlag(flagDef("launch.channel")!, entry.string())
        if (read._tag === "Success") return read.success as string
        yield* Effect.logWarning(`${assets.flags} ${key} ignored: ${read.failure}`)
        return undefined
      })

    const primitives = { subjectPrefix: prefix, bucketTtlMs, nodes, watchNodes, send, events, results, history, renewLease, putStopOrder, launchChannel, jetStreamProblem }

    return Controller.of({ ...primitives, ...flows(primitives) })
  })

/** The live nodes: every key of the bucket, read once. */
const listNodes = (kv: KV, bucket: string, now: number): Effect.Effect<Array<NodeInfo>, ControllerError> =>
  Effect.gen(function*() {
    const what = `cannot list ${bucket}`
    const keys = yield* Stream.runCollect(iterate(what, () => kv.keys(), () => undefined, (k: string) => Effect.succeed(k)))
    const entries = yield* Effect.forEach(keys, (k) => Effect.tryPromise({ try: () => kv.get(k), catch: fail(what) }), {
      concurrency: 16
    })
    const out: Array<NodeInfo> = []
    for (const e of entries) {
      if (e === null || e.operation !== "PUT") continue
      const hb = yield* heartbeatOf(`${bucket}.${e.key}`, e.string())
      if (hb) out.push({ heartbeat: hb, ageMs: Math.max(0, now - e.created.getTime()) })
    }
    return out.sort((a, b) => a.heartbeat.nodeId.localeCompare(b.heartbeat.nodeId))
  })

export { ControllerError, GridLaunchError, SelectionError }
export type { StopOutcome } from "./Flows.ts"
export type { NodeChange, Primitives, WireEvent }
