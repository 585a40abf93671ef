// The node's live flags: the effective snapshot (a SubscriptionRef) kept from the FlagStore's
// watch, resolved for this node (FlagResolver.ts). Building it waits for the store's first
// state, so a daemon has read its flags before it takes its first command. The test manager
// reads the snapshot once per start: a change applies to the tests that start after it, never
// to a running one. A value that fails its Schema (written by hand with another client) is
// ignored with a warning and counted (`grid_flags_invalid_total`); the key keeps its previous
// good value. Without a store (`grid run`), the snapshot is the daemon's values and defaults.
import { Context, Deferred, Duration, Effect, Layer, Metric, Ref, Result, Schema, Stream, SubscriptionRef } from "effect"
import { flagsInvalid, flagsRevision } from "../health/NodeMetrics.ts"
import { decodeFlag, flagDef, type FlagValue, parseKey } from "./FlagRegistry.ts"
import { type EffectiveFlags, type NodeIdentity, resolveFlags, type StoredFlag } from "./FlagResolver.ts"
import { type FlagEntry, FlagStore, type FlagUpdate } from "./FlagStore.ts"

export class NodeFlagsError extends Schema.TaggedError<NodeFlagsError>()("NodeFlagsError", {
  message: Schema.String
}) {}

export interface NodeFlagsOptions extends NodeIdentity {
  /** The daemon's own values (its --capacity, --default-runner, --tool-path): under the bucket's. */
  readonly daemonFlags: Readonly<Record<string, FlagValue>>
  /** How long start-up waits for the store's first state (default 30 s). */
  readonly readTimeout?: Duration.Duration | undefined
}

export class NodeFlags extends Context.Service<NodeFlags, {
  /** The flags a test starting now runs under. */
  readonly current: Effect.Effect<EffectiveFlags>
  /** The current snapshot, then each new one. */
  readonly changes: Stream.Stream<EffectiveFlags>
  /** Values ignored because they failed their Schema, since start. */
  readonly invalid: Effect.Effect<number>
  /** The node's own values (under the bucket's), which `grid flags effective` resolves with. */
  readonly own: Readonly<Record<string, FlagValue>>
}>()("grid/flags/NodeFlags") {
  /** Over the FlagStore when one is provided; the daemon's values and defaults otherwise. */
  static readonly layer = (options: NodeFlagsOptions) => Layer.effect(NodeFlags, make(options))
}

/** Whether a key concerns this node: others' invalid values are not its problem. */
const concerns = (node: NodeIdentity, key: string): boolean => {
  const k = parseKey(key)
  if (k === undefined) return false
  return k.scope === "global" || (k.scope === "node" && k.target === node.nodeId) ||
    (k.scope === "grid" && k.target === node.gridId) || (k.scope === "channel" && k.target === node.channel)
}

const make = Effect.fnUntraced(function*(options: NodeFlagsOptions) {
  const stored = new Map<string, StoredFlag>()
  const revision = yield* Ref.make(0)
  const invalid = yield* Ref.make(0)
  const snapshot = yield* SubscriptionRef.make(resolveFlags(stored, options, options.daemonFlags, 0))
  const store = yield* Effect.serviceOption(FlagStore)
  const service = NodeFlags.of({ current: SubscriptionRef.get(snapshot), changes: SubscriptionRef.changes(snapshot), invalid: Ref.get(invalid), own: options.daemonFlags })
  if (store._tag === "None") return service

  /** The entry's value, or undefined (warned and counted) when it fails its Schema. */
  const check = (entry: FlagEntry) =>
    Effect.gen(function*() {
      const k = parseKey(entry.key)!
      const def = flagDef(k.flag)
      if (def === undefined || !def.scopes.includes(k.scope)) {
        yield* Effect.logDebug(`flag key ${entry.key} ignored: not a flag this node knows at that scope`)
        return undefined
      }
      const read = decodeFlag(def, entry.text)
      if (Result.isSuccess(read)) return read.success
      yield* Ref.update(invalid, (n) => n + 1)
      yield* Metric.update(flagsInvalid, 1)
      const kept = stored.get(entry.key)
      yield* Effect.logWarning(
        `flag ${entry.key} (revision ${entry.revision}) ignored: ${read.failure}; ${kept === undefined ? "unset" : `kept ${String(kept.value)} (revision ${kept.revision})`}`
      )
      return undefined
    })

  const apply = (update: FlagUpdate) =>
    Effect.gen(function*() {
      let applied = 0
      if (update._tag === "Snapshot") {
        const present = new Set(update.entries.map((e) => e.key))
        for (const key of [...stored.keys()]) if (!present.has(key)) stored.delete(key)
        for (const entry of update.entries) {
          if (!concerns(options, entry.key)) continue
          const value = yield* check(entry)
          if (value !== undefined) {
            stored.set(entry.key, { value, revision: entry.revision })
            applied = Math.max(applied, entry.revision)
          }
        }
      } else if (update._tag === "Put") {
        if (!concerns(options, update.entry.key)) return
        const value = yield* check(update.entry)
        if (value === undefined) return
        stored.set(update.entry.key, { value, revision: update.entry.revision })
        applied = update.entry.revision
      } else {
        if (!concerns(options, update.key) || !stored.delete(update.key)) return
        applied = update.revision
      }
      const rev = yield* Ref.updateAndGet(revision, (r) => Math.max(r, applied))
      yield* Metric.update(flagsRevision, rev)
      const before = yield* SubscriptionRef.get(snapshot)
      const after = resolveFlags(stored, options, options.daemonFlags, rev)
      yield* SubscriptionRef.set(snapshot, after)
      yield* logChanges(before, after)
    })

  const ready = yield* Deferred.make<void>()
  yield* store.value.watch.pipe(
    Stream.runForEach((u) => Effect.andThen(apply(u), Deferred.succeed(ready, undefined))),
    Effect.forkScoped
  )
  const timeout = options.readTimeout ?? Duration.seconds(30)
  yield* Deferred.await(ready).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new NodeFlagsError({ message: `could not read the flags within ${Duration.format(timeout)}` }))
    })
  )
  return service
})

/** One line per flag whose value changed, with where the new one comes from. */
const logChanges = (before: EffectiveFlags, after: EffectiveFlags) =>
  Effect.forEach(new Set([...Object.keys(before.flags), ...Object.keys(after.flags)]), (flag) => {
    const a = before.flags[flag]
    const b = after.flags[flag]
    if (a?.value === b?.value && a?.source === b?.source) return Effect.void
    const from = b === undefined ? "unset" : `${String(b.value)} (${b.key !== undefined ? `${b.key}, revision ${b.revision}` : b.source})`
    return Effect.logInfo(`flag ${flag}: ${a === undefined ? "unset" : String(a.value)} -> ${from}`)
  }, { discard: true })
