// Where the fleet's flags are kept, as a port: the current entries (raw text, not yet checked
// against the flags' Schemas: a reader decides what it applies), a watch that starts with the
// whole current state and then gives every change (again from a whole state after a
// reconnect), writes, and a key's history. `grid daemon` and `grid flags` use the NATS KV bucket
// `grid_flags` (src/nats/NatsFlagStore.ts); tests and programs can use the memory one.
import { Clock, Context, Effect, Layer, PubSub, Ref, Schema, Stream } from "effect"

export class FlagStoreError extends Schema.TaggedError<FlagStoreError>()("FlagStoreError", {
  message: Schema.String
}) {}

/** One stored value, as stored. */
export interface FlagEntry {
  readonly key: string
  readonly text: string
  readonly revision: number
  /** RFC 3339, when the store knows it. */
  readonly at?: string | undefined
}

export type FlagUpdate =
  /** Every current entry (the watch opened, or reopened after a reconnect): replaces all. */
  | { readonly _tag: "Snapshot"; readonly entries: ReadonlyArray<FlagEntry>; readonly revision: number }
  | { readonly _tag: "Put"; readonly entry: FlagEntry }
  | { readonly _tag: "Delete"; readonly key: string; readonly revision: number }

/** One revision of a key: a value, or its removal (`text` absent). */
export interface FlagRevision {
  readonly key: string
  readonly text?: string | undefined
  readonly revision: number
  readonly at?: string | undefined
  readonly operation: "PUT" | "DEL" | "PURGE"
}

export class FlagStore extends Context.Service<FlagStore, {
  /** Every current entry, and the store's last revision. */
  readonly list: Effect.Effect<{ readonly entries: ReadonlyArray<FlagEntry>; readonly revision: number }, FlagStoreError>
  /** A Snapshot first (and again after each reconnect), then every change; never fails (it retries). */
  readonly watch: Stream.Stream<FlagUpdate>
  /** Stores a value; its revision. */
  readonly put: (key: string, text: string) => Effect.Effect<number, FlagStoreError>
  /** Removes a key (its history stays). */
  readonly remove: (key: string) => Effect.Effect<void, FlagStoreError>
  /** The revisions kept for a key, oldest first. */
  readonly history: (key: string) => Effect.Effect<ReadonlyArray<FlagRevision>, FlagStoreError>
}>()("grid/flags/FlagStore") {
  /** A store in this process's memory, empty at first (it keeps the 20 last revisions of a key). */
  static readonly memory = Layer.effect(FlagStore, Effect.suspend(() => makeMemoryStore()))
}

/** Revisions of a key kept, like the NATS bucket's history. */
export const HISTORY = 20

export const makeMemoryStore = Effect.fnUntraced(function*() {
  const state = yield* Ref.make({ revision: 0, log: [] as Array<FlagRevision> })
  const updates = yield* PubSub.unbounded<FlagUpdate>()
  const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())
  const current = (log: ReadonlyArray<FlagRevision>): Array<FlagEntry> => {
    const last = new Map<string, FlagRevision>()
    for (const r of log) last.set(r.key, r)
    return [...last.values()].filter((r) => r.operation === "PUT").map((r) => ({ key: r.key, text: r.text!, revision: r.revision, at: r.at }))
  }
  const append = (r: Omit<FlagRevision, "revision">) =>
    Ref.modify(state, (s) => {
      const revision = s.revision + 1
      const kept = s.log.filter((x) => x.key === r.key).length >= HISTORY ? dropOldest(s.log, r.key) : s.log
      return [revision, { revision, log: [...kept, { ...r, revision }] }]
    })
  const list = Effect.map(Ref.get(state), (s) => ({ entries: current(s.log), revision: s.revision }))
  return FlagStore.of({
    list,
    watch: Stream.unwrap(Effect.gen(function*() {
      const sub = yield* PubSub.subscribe(updates)
      const { entries, revision } = yield* list
      return Stream.concat(Stream.succeed<FlagUpdate>({ _tag: "Snapshot", entries, revision }), Stream.fromSubscription(sub))
    })),
    put: (key, text) =>
      Effect.gen(function*() {
        const at = yield* now
        const revision = yield* append({ key, text, at, operation: "PUT" })
        yield* PubSub.publish(updates, { _tag: "Put", entry: { key, text, revision, at } })
        return revision
      }),
    remove: (key) =>
      Effect.gen(function*() {
        const revision = yield* append({ key, at: yield* now, operation: "DEL" })
        yield* PubSub.publish(updates, { _tag: "Delete", key, revision })
      }),
    history: (key) => Effect.map(Ref.get(state), (s) => s.log.filter((r) => r.key === key))
  })
})

const dropOldest = (log: ReadonlyArray<FlagRevision>, key: string): Array<FlagRevision> => {
  const i = log.findIndex((r) => r.key === key)
  return i < 0 ? [...log] : [...log.slice(0, i), ...log.slice(i + 1)]
}
