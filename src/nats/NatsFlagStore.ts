// FlagStore over the KV bucket `grid_flags` (history 20 per key, no TTL: a flag stays until
// unset). Encoding and decoding only: the values are the texts as stored; their Schemas are the
// flags' (src/flags/). The watch reads the bucket's last revision, then opens a KV watch and
// gives a Snapshot once it has read up to that revision, then every change; it is opened again
// after each reconnect (a restarted server forgets the watch's place), from a whole Snapshot.
import type { KV } from "@nats-io/kv"
import { Kvm } from "@nats-io/kv"
import { Effect, Layer, Schedule, Stream } from "effect"
import { type FlagEntry, FlagStore, FlagStoreError, type FlagUpdate } from "../flags/FlagStore.ts"
import { HISTORY } from "../flags/FlagStore.ts"
import { describe, NatsConnection } from "./NatsConnection.ts"

interface WatchEntry {
  readonly key: string
  readonly operation: "PUT" | "DEL" | "PURGE"
  readonly revision: number
  readonly created: Date
  string(): string
}

/** A stored value larger than this is not a flag (and is not read whole). */
const MAX_VALUE_BYTES = 4096

const fail = (what: string) => (e: unknown) => new FlagStoreError({ message: `${what}: ${describe(e)}` })

/** The bucket, created when missing (by a daemon, a controller or the CLI, whichever comes
 * first), with `replicas` when given (a cluster's `--stream-replicas`); an existing one is opened. */
export const ensureFlagBucket = (name: string, replicas?: number) =>
  Effect.flatMap(NatsConnection, ({ nc }) =>
    Effect.tryPromise({
      try: () => new Kvm(nc).create(name, { history: HISTORY, maxValueSize: MAX_VALUE_BYTES, ...(replicas !== undefined ? { replicas } : {}) }),
      catch: fail(`cannot open KV bucket ${name}`)
    }))

const entryOf = (e: WatchEntry): FlagEntry => ({ key: e.key, text: e.string(), revision: e.revision, at: e.created.toISOString() })

export const natsFlagStoreLayer = (bucket: string) =>
  Layer.effect(
    FlagStore,
    Effect.gen(function*() {
      const { nc } = yield* NatsConnection
      const kv: KV = yield* ensureFlagBucket(bucket)
      const lastRevision = Effect.tryPromise({ try: () => kv.status(), catch: fail(`cannot read ${bucket}`) }).pipe(
        Effect.map((s) => s.streamInfo.state.last_seq)
      )

      const watchOnce: Stream.Stream<FlagUpdate, FlagStoreError> = Stream.unwrap(
        Effect.gen(function*() {
          const upTo = yield* lastRevision
          const it = yield* Effect.acquireRelease(
            Effect.tryPromise({ try: () => kv.watch(), catch: fail(`cannot watch ${bucket}`) }),
            (it) => Effect.sync(() => it.stop())
          )
          const changes = Stream.fromAsyncIterable(it as AsyncIterable<WatchEntry>, fail(`watch of ${bucket}`)).pipe(
            Stream.map((e): FlagUpdate =>
              e.operation === "PUT" ? { _tag: "Put", entry: entryOf(e) } : { _tag: "Delete", key: e.key, revision: e.revision }
            )
          )
          if (upTo === 0) return Stream.concat(Stream.succeed<FlagUpdate>({ _tag: "Snapshot", entries: [], revision: 0 }), changes)
          // The last values come first, in revision order; the one at (or past) the bucket's
          // last revision ends the replay, and with it the Snapshot.
          const current = new Map<string, FlagEntry>()
          let replaying = true
          return changes.pipe(
            Stream.flatMap((u) => {
              if (!replaying) return Stream.make(u)
              const revision = u._tag === "Put" ? u.entry.revision : u._tag === "Delete" ? u.revision : 0
              if (u._tag === "Put") current.set(u.entry.key, u.entry)
              else if (u._tag === "Delete") current.delete(u.key)
              if (revision < upTo) return Stream.empty
              replaying = false
              return Stream.succeed<FlagUpdate>({ _tag: "Snapshot", entries: [...current.values()], revision })
            })
          )
        })
      )
      const reconnects = Stream.fromAsyncIterable(nc.status(), () => undefined).pipe(
        Stream.filter((s) => s.type === "reconnect"),
        Stream.catch(() => Stream.empty)
      )
      const watch = Stream.concat(Stream.make("open" as const), Stream.map(reconnects, () => "reopen" as const)).pipe(
        Stream.switchMap(() =>
          watchOnce.pipe(
            Stream.tapError((e) => Effect.logWarning(`${e.message}; reopening`)),
            Stream.retry(Schedule.min([Schedule.exponential("200 millis", 2), Schedule.spaced("5 seconds")]))
          )
        ),
        Stream.catch(() => Stream.never)
      )

      const list = Effect.gen(function*() {
        const upTo = yield* lastRevision
        const first = yield* watchOnce.pipe(
          Stream.filter((u) => u._tag === "Snapshot"),
          Stream.take(1),
          Stream.runCollect,
          Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.fail(new FlagStoreError({ message: `cannot read ${bucket}: no answer within 10 s` })) })
        )
        const snap = first[0]
        return { entries: snap !== undefined && snap._tag === "Snapshot" ? snap.entries : [], revision: upTo }
      }).pipe(Effect.scoped)

      return FlagStore.of({
        list,
        watch,
        put: (key, text) => Effect.tryPromise({ try: () => kv.put(key, text), catch: fail(`cannot set ${key}`) }),
        remove: (key) => Effect.tryPromise({ try: () => kv.delete(key), catch: fail(`cannot unset ${key}`) }),
        history: (key) =>
          Effect.gen(function*() {
            const it = yield* Effect.acquireRelease(
              Effect.tryPromise({ try: () => kv.history({ key }), catch: fail(`cannot read the history of ${key}`) }),
              (it) => Effect.sync(() => it.stop())
            )
            const entries = yield* Stream.runCollect(Stream.fromAsyncIterable(it as AsyncIterable<WatchEntry>, fail(`history of ${key}`)))
            return entries.map((e) => ({
              key: e.key,
              text: e.operation === "PUT" ? e.string() : undefined,
              revision: e.revision,
              at: e.created.toISOString(),
              operation: e.operation
            }))
          }).pipe(Effect.scoped)
      })
    })
  )
