// The controller's primitives (NodeBus.ts) in memory, for tests and embedding programs without
// NATS: what nodes would publish is appended as JSON text to in-memory logs and read back
// through the same Schemas as on NATS (WireReader.ts); commands the controller sends are
// logged for simulated nodes to follow. Followers replay a log from its start, then go live,
// like the JetStream consumers they stand for; the node list is the KV bucket's counterpart.
import { Clock, Effect, Stream, SubscriptionRef } from "effect"
import * as crypto from "node:crypto"
import type { Command } from "../protocol/commands.ts"
import type { Heartbeat } from "../protocol/health.ts"
import type { NodeChange, Primitives } from "./NodeBus.ts"
import type { NodeInfo } from "./Selection.ts"
import { eventOf, heartbeatOf, windowOf } from "./WireReader.ts"

interface Stored {
  readonly testId: string
  readonly nodeId: string
  readonly text: string
}
interface Sent {
  readonly nodeId: string
  readonly command: Command
}
type KvChange = { readonly op: "put"; readonly nodeId: string; readonly text: string } | { readonly op: "delete"; readonly nodeId: string }
interface Kv {
  readonly entries: ReadonlyMap<string, { readonly text: string; readonly putAt: number }>
  readonly changes: ReadonlyArray<KvChange>
}

export interface MemoryBus extends Primitives {
  /** Every command sent to a node, from the first one, then live: what a simulated node reads. */
  readonly commands: (nodeId: string) => Stream.Stream<Command>
  /** Appends an event (a value, or raw text as a node could send) to `events.<testId>.<nodeId>`. */
  readonly publishEvent: (testId: string, nodeId: string, event: unknown) => Effect.Effect<void>
  /** Appends a result window (a value or raw text). */
  readonly publishWindow: (testId: string, nodeId: string, window: unknown) => Effect.Effect<void>
  /** Puts a node's heartbeat (a value or raw text) under its id. */
  readonly putHeartbeat: (nodeId: string, heartbeat: Heartbeat | string) => Effect.Effect<void>
  /** Deletes a node's heartbeat, as a node shutting down does. */
  readonly deleteHeartbeat: (nodeId: string) => Effect.Effect<void>
}

const textOf = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v))

/** The entries of a growing log, from the first, then each one appended. */
const tail = <A>(ref: SubscriptionRef.SubscriptionRef<ReadonlyArray<A>>): Stream.Stream<A> =>
  Stream.unwrap(Effect.sync(() => {
    let seen = 0
    return SubscriptionRef.changes(ref).pipe(
      Stream.flatMap((all) => {
        const fresh = all.slice(seen)
        seen = all.length
        return Stream.fromIterable(fresh)
      })
    )
  }))

const decoded = <A>(s: Stream.Stream<A | undefined>): Stream.Stream<A> => Stream.filter(s, (a): a is A => a !== undefined)

export const makeMemoryBus = (options: { readonly subjectPrefix?: string; readonly bucketTtlMs?: number } = {}): Effect.Effect<MemoryBus> =>
  Effect.gen(function*() {
    const prefix = options.subjectPrefix ?? "grid"
    const events = yield* SubscriptionRef.make<ReadonlyArray<Stored>>([])
    const windows = yield* SubscriptionRef.make<ReadonlyArray<Stored>>([])
    const sent = yield* SubscriptionRef.make<ReadonlyArray<Sent>>([])
    const kv = yield* SubscriptionRef.make<Kv>({ entries: new Map(), changes: [] })
    const append = (ref: SubscriptionRef.SubscriptionRef<ReadonlyArray<Stored>>) => (testId: string, nodeId: string, v: unknown) =>
      SubscriptionRef.update(ref, (all) => [...all, { testId, nodeId, text: textOf(v) }])
    const where = (kind: string, s: Stored) => `${prefix}.${kind}.${s.testId}.${s.nodeId}`

    const nodes: Primitives["nodes"] = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const { entries } = yield* SubscriptionRef.get(kv)
      const out: Array<NodeInfo> = []
      for (const [nodeId, e] of entries) {
        const heartbeat = yield* heartbeatOf(`memory kv ${nodeId}`, e.text)
        if (heartbeat) out.push({ heartbeat, ageMs: Math.max(0, now - e.putAt) })
      }
      return out.sort((a, b) => a.heartbeat.nodeId.localeCompare(b.heartbeat.nodeId))
    })

    // Current values first, then every change, as a KV watch delivers them.
    const watchNodes: Primitives["watchNodes"] = Stream.unwrap(Effect.sync(() => {
      let seen: number | undefined
      return SubscriptionRef.changes(kv).pipe(
        Stream.flatMap((state) => {
          const fresh: Array<KvChange> = seen === undefined
            ? [...state.entries].map(([nodeId, e]) => ({ op: "put", nodeId, text: e.text }))
            : state.changes.slice(seen)
          seen = state.changes.length
          return Stream.fromIterable(fresh)
        }),
        Stream.mapEffect((c): Effect.Effect<NodeChange | undefined> =>
          c.op === "delete"
            ? Effect.succeed(c)
            : Effect.map(heartbeatOf(`memory kv ${c.nodeId}`, c.text), (heartbeat) => (heartbeat ? { op: "put", nodeId: c.nodeId, heartbeat } : undefined))
        ),
        decoded
      )
    }))

    const bus: MemoryBus = {
      subjectPrefix: prefix,
      bucketTtlMs: options.bucketTtlMs ?? 15_000,
      nodes,
      watchNodes,
      send: (nodeId, command) => {
        const commandId = command.commandId ?? crypto.randomUUID()
        return SubscriptionRef.update(sent, (all) => [...all, { nodeId, command: { ...command, commandId } as Command }]).pipe(Effect.as(commandId))
      },
      events: (testId) =>
        tail(events).pipe(Stream.filter((s) => s.testId === testId), Stream.mapEffect((s) => eventOf(where("events", s), s.text)), decoded),
      results: (testId) =>
        tail(windows).pipe(Stream.filter((s) => s.testId === testId), Stream.mapEffect((s) => windowOf(where("results", s), s.text)), decoded),
      history: (testId) =>
        Effect.gen(function*() {
          const ev = (yield* SubscriptionRef.get(events)).filter((s) => s.testId === testId)
          const wi = (yield* SubscriptionRef.get(windows)).filter((s) => s.testId === testId)
          const read = <A>(list: ReadonlyArray<Stored>, kind: string, f: (w: string, t: string) => Effect.Effect<A | undefined>) =>
            Effect.map(Effect.forEach(list, (s) => f(where(kind, s), s.text)), (all) => all.filter((a): a is A => a !== undefined))
          return { events: yield* read(ev, "events", eventOf), windows: yield* read(wi, "results", windowOf) }
        }),
      commands: (nodeId) => tail(sent).pipe(Stream.filter((s) => s.nodeId === nodeId), Stream.map((s) => s.command)),
      publishEvent: append(events),
      publishWindow: append(windows),
      putHeartbeat: (nodeId, heartbeat) =>
        Effect.flatMap(Clock.currentTimeMillis, (putAt) =>
          SubscriptionRef.update(kv, (s) => {
            const text = textOf(heartbeat)
            return { entries: new Map(s.entries).set(nodeId, { text, putAt }), changes: [...s.changes, { op: "put" as const, nodeId, text }] }
          })),
      deleteHeartbeat: (nodeId) =>
        SubscriptionRef.update(kv, (s) => {
          const entries = new Map(s.entries)
          entries.delete(nodeId)
          return { entries, changes: [...s.changes, { op: "delete" as const, nodeId }] }
        })
    }
    return bus
  })
