// The other end of docs/protocol.md for Effect tests: publishes commands the way a controller
// does (JetStream, Nats-Msg-Id) and reads every event of the GRID_EVENTS stream through an
// ordered consumer, each through the protocol's schema (readEvent): a message no schema
// reads is kept apart (`undecodable`), never passed off as an event. Scoped: the connection
// and the follower end with the scope. Waits poll on a Schedule and fail with WaitTimedOut.
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect, type NatsConnection as Conn } from "@nats-io/transport-node"
import { Context, Duration, Effect, Layer, Result, Schedule, Schema, type Scope, Stream } from "effect"
import * as crypto from "node:crypto"
import { ensureAssets } from "../../src/nats/JetStreamAssets.ts"
import { NatsConnection } from "../../src/nats/NatsConnection.ts"
import { type EventKind, type GridEvent, type ReadEvent, readEvent } from "../../src/protocol/events.ts"
import { type Heartbeat, readHeartbeat } from "../../src/protocol/health.ts"
import { assets, subjects } from "../../src/protocol/names.ts"
import { TestNats } from "./natsServer.ts"
import { decodeResultWindow, type ResultWindow } from "../../src/protocol/results.ts"

export class WaitTimedOut extends Schema.TaggedError<WaitTimedOut>()("WaitTimedOut", {
  message: Schema.String
}) {}

export type EventOf<K extends EventKind> = Extract<GridEvent, { readonly kind: K }>
export type TerminalEvent = EventOf<"finished" | "failed" | "stopped">
const terminal = new Set<string>(["finished", "failed", "stopped"])

/** Polls `probe` every 25 ms until it yields a value (not undefined or false), within `timeout`. */
export const waitUntil = <A, E, R>(
  what: string,
  probe: Effect.Effect<A | undefined | false, E, R>,
  timeout: Duration.Input = "20 seconds"
): Effect.Effect<A, E | WaitTimedOut, R> =>
  probe.pipe(
    Effect.repeat({ schedule: Schedule.spaced("25 millis"), until: (v) => v !== undefined && v !== false }),
    Effect.map((v) => v as A),
    Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.fail(new WaitTimedOut({ message: `timed out waiting for ${what}` })) })
  )

export class WireClient extends Context.Service<WireClient, {
  readonly nc: Conn
  /** Every event read so far, in stream order. */
  readonly events: Effect.Effect<ReadonlyArray<ReadEvent>>
  /** Messages of the event stream no schema reads (the reader's one-line complaint each). */
  readonly undecodable: Effect.Effect<ReadonlyArray<string>>
  /** Every message of the event stream as sent (its text), in stream order: for checks of the
   * wire form itself, which the schemas' reading drops fields of. */
  readonly texts: Effect.Effect<ReadonlyArray<string>>
  readonly eventsOf: (testId: string | undefined) => Effect.Effect<ReadonlyArray<ReadEvent>>
  /** Publishes a command (a commandId is added when missing); returns its commandId. */
  readonly send: (nodeId: string, command: Record<string, unknown>) => Effect.Effect<string>
  readonly sendRaw: (nodeId: string, data: Uint8Array | string) => Effect.Effect<void>
  readonly waitEvent: <K extends EventKind>(testId: string | undefined, kind: K, timeout?: Duration.Input) => Effect.Effect<EventOf<K>, WaitTimedOut>
  readonly terminalOf: (testId: string, timeout?: Duration.Input) => Effect.Effect<TerminalEvent, WaitTimedOut>
  /** The node's current heartbeat record, read through the Heartbeat schema. */
  readonly heartbeat: (nodeId: string) => Effect.Effect<Heartbeat | undefined>
  /** Every message stored in GRID_RESULTS for a test (duplicates included, if any). */
  readonly results: (testId: string) => Effect.Effect<ReadonlyArray<ResultWindow>>
}>()("grid/test/WireClient") {
  static readonly make = (
    url: string,
    prefix = "grid",
    auth?: { readonly user: string; readonly pass: string }
  ): Effect.Effect<WireClient["Service"], never, Scope.Scope> =>
    Effect.gen(function*() {
      const nc = yield* Effect.acquireRelease(
        Effect.promise(() => connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200, ...auth })),
        (nc) => Effect.promise(() => nc.close())
      )
      const js = jetstream(nc)
      const jsm = yield* Effect.promise(() => jetstreamManager(nc))
      // Like a controller, the client creates the protocol's assets itself (idempotently).
      yield* ensureAssets(assets(prefix), subjects(prefix), Duration.seconds(15)).pipe(
        Effect.provideService(NatsConnection, NatsConnection.of({ nc, js, jsm })),
        Effect.orDie
      )
      const events: Array<ReadEvent> = []
      const undecodable: Array<string> = []
      const texts: Array<string> = []

      // An ordered consumer forgets its place when the server restarts: it is reopened after
      // every reconnect (and after any failure) from the next stream sequence, so a restart
      // in a fault test loses nothing.
      let lastSeq = 0
      let current: { close(): Promise<unknown> } | undefined
      const followOnce = Effect.scoped(Effect.gen(function*() {
        const consumer = yield* Effect.tryPromise(() =>
          js.consumers.get(assets(prefix).events, lastSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSeq + 1 } : {})
        )
        const messages = yield* Effect.acquireRelease(
          Effect.tryPromise(() => consumer.consume({ expires: 2_000 })),
          (m) => Effect.promise(() => m.close().catch(() => undefined))
        )
        current = messages
        yield* Stream.fromAsyncIterable(messages, (e) => e).pipe(
          Stream.runForEach((m) =>
            Effect.sync(() => {
              if (m.seq <= lastSeq) return
              lastSeq = m.seq
              const text = m.string()
              texts.push(text)
              const read = readEvent(text)
              if (Result.isSuccess(read)) events.push(read.success)
              else undecodable.push(read.failure)
            })
          )
        )
      }))
      yield* followOnce.pipe(
        Effect.retry(Schedule.spaced("100 millis")),
        Effect.repeat(Schedule.spaced("100 millis")),
        Effect.forkScoped
      )
      yield* Stream.fromAsyncIterable(nc.status(), (e) => e).pipe(
        Stream.runForEach((s) => s.type === "reconnect" ? Effect.promise(() => current?.close().catch(() => undefined) ?? Promise.resolve()) : Effect.void),
        Effect.ignore,
        Effect.forkScoped
      )

      const eventsOf = (testId: string | undefined) => Effect.sync(() => events.filter((e) => e.testId === testId))
      const waitEvent = <K extends EventKind>(testId: string | undefined, kind: K, timeout?: Duration.Input) =>
        waitUntil(`${kind} event of ${testId}`, Effect.map(eventsOf(testId), (all) => all.find((e): e is EventOf<K> => e.kind === kind)), timeout)
      const publish = (subject: string, data: Uint8Array | string, msgID?: string) =>
        Effect.promise(() => js.publish(subject, data, msgID === undefined ? undefined : { msgID }))
      return WireClient.of({
        nc,
        events: Effect.sync(() => [...events]),
        undecodable: Effect.sync(() => [...undecodable]),
        texts: Effect.sync(() => [...texts]),
        eventsOf,
        send: (nodeId, command) => {
          const commandId = (command.commandId as string | undefined) ?? crypto.randomUUID()
          return publish(`${prefix}.control.node.${nodeId}`, JSON.stringify({ ...command, commandId }), commandId).pipe(Effect.as(commandId))
        },
        sendRaw: (nodeId, data) => Effect.asVoid(publish(`${prefix}.control.node.${nodeId}`, data)),
        waitEvent,
        terminalOf: (testId, timeout) =>
          waitUntil(`terminal event of ${testId}`, Effect.map(eventsOf(testId), (all) => all.find((e): e is TerminalEvent => terminal.has(e.kind))), timeout),
        heartbeat: (nodeId) =>
          Effect.gen(function*() {
            const kv = yield* Effect.promise(() => new Kvm(nc).open(assets(prefix).nodes))
            const entry = yield* Effect.promise(() => kv.get(nodeId))
            if (!entry || entry.operation !== "PUT") return undefined
            const read = readHeartbeat(entry.string())
            return Result.isSuccess(read) ? read.success : yield* Effect.die(new Error(read.failure))
          }),
        results: (testId) =>
          Effect.gen(function*() {
            const consumer = yield* Effect.promise(() => js.consumers.get(assets(prefix).results, { filter_subjects: `${prefix}.results.${testId}.>` }))
            const out: Array<ResultWindow> = []
            for (;;) {
              const m = yield* Effect.promise(() => consumer.next({ expires: 1_000 }))
              if (!m) return out
              out.push(yield* decodeResultWindow(m.string()).pipe(Effect.orDie))
            }
          })
      })
    })

  static readonly layer = (url: string, prefix?: string) => Layer.effect(WireClient, WireClient.make(url, prefix))
  /** A client of the suite's server (TestNats). */
  static readonly layerNats = Layer.effect(WireClient, Effect.flatMap(TestNats, (nats) => WireClient.make(nats.url)))
  /** On the suite's server with these credentials (a server with accounts and permissions). */
  static readonly layerNatsAs = (user: string, pass: string) =>
    Layer.effect(WireClient, Effect.flatMap(TestNats, (nats) => WireClient.make(nats.url, "grid", { user, pass })))
}
