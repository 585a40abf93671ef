// `grid flags list|get|set|unset|history|rollback|effective`: the fleet's live flags in KV
// `grid_flags` (issue #13; the flags and their Schemas: src/flags/FlagRegistry.ts). The scope is
// global without a flag, or `--channel C`, `--grid G`, `--node N`. `set` checks the value against
// the flag's Schema and writes nothing when it fails (exit 2, naming the allowed values); every
// node applies a change to its next tests within a second. Exit codes: 0 done, 1 NATS or a flag
// not set, 2 a bad flag name, scope or value.
import { Kvm } from "@nats-io/kv"
import { Console, Effect, Layer, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { decodeFlag, type FlagDef, flagDef, type FlagKey, flagNames, type FlagScope, isScopeTarget, keyOf, parseKey, scopeProblem } from "../flags/FlagRegistry.ts"
import { type EffectiveFlags, resolveFlags, type StoredFlag } from "../flags/FlagResolver.ts"
import { type FlagEntry, FlagStore } from "../flags/FlagStore.ts"
import { natsFlagStoreLayer } from "../nats/NatsFlagStore.ts"
import { NatsConnection } from "../nats/NatsConnection.ts"
import { readHeartbeat } from "../protocol/health.ts"
import { assets } from "../protocol/names.ts"
import { natsAuthOf, natsFlags } from "./flags.ts"

const EXIT_USAGE = 2

const scopeFlags = {
  channel: Flag.String("channel").pipe(Flag.withDescription("Scope: the nodes of this release channel"), Flag.optional),
  grid: Flag.String("grid").pipe(Flag.withDescription("Scope: the nodes of this grid"), Flag.optional),
  node: Flag.String("node").pipe(Flag.withDescription("Scope: this node"), Flag.optional)
}
const common = { ...natsFlags, ...scopeFlags }
type Common = { readonly [K in keyof typeof common]: (typeof common)[K] extends Flag.Flag<infer A> ? A : never }

const say = (sub: string, message: string, code: number) =>
  Effect.gen(function*() {
    yield* Console.error(`grid flags ${sub}: ${message}`)
    process.exitCode = code
  })

/** The store over the command's own NATS connection; the connection too (`effective` reads heartbeats). */
const storeLayer = (f: Common) =>
  natsFlagStoreLayer(assets(f.subjectPrefix).flags).pipe(
    Layer.provideMerge(NatsConnection.layer({ url: f.natsUrl, auth: natsAuthOf(f), name: `grid-flags-${process.pid}` }))
  )

/** The scope the flags chose, or what is wrong with them. */
const scopeOf = (f: Common): { readonly scope: FlagScope; readonly target?: string } | string => {
  const given = (["channel", "grid", "node"] as const).filter((s) => Option.isSome(f[s]))
  if (given.length > 1) return `give one of --channel, --grid and --node (got ${given.map((s) => `--${s}`).join(", ")})`
  const scope = given[0]
  if (scope === undefined) return { scope: "global" }
  const target = Option.getOrThrow(f[scope])
  if (!isScopeTarget(target)) return `--${scope} ${JSON.stringify(target)}: must be 1-64 of A-Z a-z 0-9 _ -`
  return { scope, target }
}

/** The key of a flag at the chosen scope, or what is wrong (an unknown flag, a scope it refuses). */
const keyFor = (f: Common, flag: string): { readonly key: string; readonly def: FlagDef } | string => {
  const def = flagDef(flag)
  if (def === undefined) return `unknown flag ${JSON.stringify(flag)} (flags: ${flagNames()})`
  const s = scopeOf(f)
  if (typeof s === "string") return s
  const problem = scopeProblem(def, s.scope)
  if (problem !== undefined) return problem
  return { key: keyOf({ ...s, flag } as FlagKey), def }
}

/** Runs a subcommand's work against the store; a failure is one line and exit 1. */
const withStore = <A>(sub: string, f: Common, work: Effect.Effect<A, { readonly message: string }, FlagStore | NatsConnection>) =>
  Effect.result(work.pipe(Effect.provide(storeLayer(f)))).pipe(
    Effect.flatMap((r) => (r._tag === "Failure" ? say(sub, (r.failure as { message?: string }).message ?? String(r.failure), 1) : Effect.void))
  )

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

/** An entry's value as checked by its flag's Schema. */
const checked = (e: FlagEntry) => {
  const k = parseKey(e.key)
  const def = k === undefined ? undefined : flagDef(k.flag)
  if (k === undefined || def === undefined) return { k, valid: false, why: "not a known flag key" }
  const read = decodeFlag(def, e.text)
  return read._tag === "Success" ? { k, valid: true, why: undefined } : { k, valid: false, why: read.failure }
}

const listCommand = Command.make("list", { ...common, json: Flag.Boolean("json").pipe(Flag.withDescription("Print the entries as JSON"), Flag.withDefault(false)) }, (f) =>
  Effect.gen(function*() {
    const s = scopeOf(f)
    if (typeof s === "string") return yield* say("list", s, EXIT_USAGE)
    yield* withStore("list", f, Effect.gen(function*() {
      const { entries, revision } = yield* (yield* FlagStore).list
      const shown = entries.map((e) => ({ e, ...checked(e) })).filter(({ k }) =>
        Option.isNone(f.channel) && Option.isNone(f.grid) && Option.isNone(f.node) ? true : k?.scope === s.scope && k.target === s.target
      ).sort((a, b) => a.e.key.localeCompare(b.e.key))
      if (f.json) {
        return yield* Console.log(JSON.stringify(shown.map(({ e, k, valid, why }) => ({
          key: e.key, scope: k?.scope, target: k?.target, flag: k?.flag, value: e.text, valid, ...(why !== undefined ? { problem: why } : {}), revision: e.revision, at: e.at
        })), null, 2))
      }
      if (shown.length === 0) return yield* Console.log(`no flags set (bucket revision ${revision})`)
      yield* Console.log(table(["key", "value", "revision", "set at"], shown.map(({ e, valid, why }) => [
        e.key, valid ? e.text : `${e.text} (ignored: ${why})`, String(e.revision), e.at ?? "-"
      ])))
    }))
  })).pipe(Command.withDescription("List the flags set, every scope (or the one chosen)"))

const flagArg = Argument.String("flag").pipe(Argument.withDescription(`The flag: ${flagNames()}`))

const getCommand = Command.make("get", { ...common, flag: flagArg }, (f) =>
  Effect.gen(function*() {
    const at = keyFor(f, f.flag)
    if (typeof at === "string") return yield* say("get", at, EXIT_USAGE)
    yield* withStore("get", f, Effect.gen(function*() {
      const { entries } = yield* (yield* FlagStore).list
      const e = entries.find((x) => x.key === at.key)
      if (e === undefined) return yield* say("get", `${at.key} is not set`, 1)
      yield* Console.log(e.text)
    }))
  })).pipe(Command.withDescription("Print a flag's value at one scope (exit 1 when it is not set there)"))

const setCommand = Command.make("set", { ...common, flag: flagArg, value: Argument.String("value").pipe(Argument.withDescription("The value, as text: true, 4, docker")) }, (f) =>
  Effect.gen(function*() {
    const at = keyFor(f, f.flag)
    if (typeof at === "string") return yield* say("set", at, EXIT_USAGE)
    const read = decodeFlag(at.def, f.value)
    if (read._tag === "Failure") return yield* say("set", `${read.failure}; nothing written`, EXIT_USAGE)
    yield* withStore("set", f, Effect.gen(function*() {
      const revision = yield* (yield* FlagStore).put(at.key, String(read.success))
      yield* Console.log(`${at.key} = ${String(read.success)} (revision ${revision})`)
    }))
  })).pipe(Command.withDescription("Set a flag at one scope; the value is checked against the flag's Schema first"))

const unsetCommand = Command.make("unset", { ...common, flag: flagArg }, (f) =>
  Effect.gen(function*() {
    const at = keyFor(f, f.flag)
    if (typeof at === "string") return yield* say("unset", at, EXIT_USAGE)
    yield* withStore("unset", f, Effect.gen(function*() {
      yield* (yield* FlagStore).remove(at.key)
      yield* Console.log(`${at.key} unset`)
    }))
  })).pipe(Command.withDescription("Remove a flag at one scope (the next scope, or the node's own value, applies)"))

const historyCommand = Command.make("history", { ...common, flag: flagArg }, (f) =>
  Effect.gen(function*() {
    const at = keyFor(f, f.flag)
    if (typeof at === "string") return yield* say("history", at, EXIT_USAGE)
    yield* withStore("history", f, Effect.gen(function*() {
      const revisions = yield* (yield* FlagStore).history(at.key)
      if (revisions.length === 0) return yield* Console.log(`${at.key} was never set`)
      yield* Console.log(table(["revision", "at", "value"], revisions.map((r) => [String(r.revision), r.at ?? "-", r.text ?? "(unset)"])))
    }))
  })).pipe(Command.withDescription("The revisions kept of a flag at one scope (the last 20), oldest first"))

const rollbackCommand = Command.make("rollback", { ...common, flag: flagArg }, (f) =>
  Effect.gen(function*() {
    const at = keyFor(f, f.flag)
    if (typeof at === "string") return yield* say("rollback", at, EXIT_USAGE)
    yield* withStore("rollback", f, Effect.gen(function*() {
      const store = yield* FlagStore
      const revisions = yield* store.history(at.key)
      const current = revisions.at(-1)
      if (current === undefined) return yield* say("rollback", `${at.key} was never set: nothing to roll back`, 1)
      const previous = revisions.at(-2)
      const now = current.text ?? "(unset)"
      if (previous?.text === undefined) {
        if (current.text === undefined) return yield* say("rollback", `${at.key} is unset and was unset before: nothing to roll back`, 1)
        yield* store.remove(at.key)
        return yield* Console.log(`${at.key}: ${now} -> (unset)`)
      }
      const read = decodeFlag(at.def, previous.text)
      if (read._tag === "Failure") return yield* say("rollback", `the previous value (revision ${previous.revision}) is not valid: ${read.failure}; nothing written`, 1)
      const revision = yield* store.put(at.key, previous.text)
      yield* Console.log(`${at.key}: ${now} -> ${previous.text} (revision ${revision}, as at revision ${previous.revision})`)
    }))
  })).pipe(Command.withDescription("Restore a flag's previous value at one scope (unset, if it had none)"))

const effectiveCommand = Command.make("effective", common, (f) =>
  Effect.gen(function*() {
    if (Option.isNone(f.node)) return yield* say("effective", "--node N: the node whose flags to resolve", EXIT_USAGE)
    const nodeId = f.node.value
    yield* withStore("effective", f, Effect.gen(function*() {
      const { nc } = yield* NatsConnection
      const hbText = yield* Effect.tryPromise({
        try: () => new Kvm(nc).open(assets(f.subjectPrefix).nodes).then((kv) => kv.get(nodeId)),
        catch: (e) => ({ message: `cannot read the heartbeat of ${nodeId}: ${String(e)}` })
      })
      const hb = hbText !== null && hbText.operation === "PUT" ? readHeartbeat(hbText.string()) : undefined
      if (hb === undefined || hb._tag === "Failure") return yield* say("effective", `node ${nodeId} is not live (no heartbeat in ${assets(f.subjectPrefix).nodes})`, 1)
      const h = hb.success
      const { entries, revision } = yield* (yield* FlagStore).list
      const stored = new Map<string, StoredFlag>()
      for (const e of entries) {
        const c = checked(e)
        const def = c.k === undefined ? undefined : flagDef(c.k.flag)
        const read = def === undefined ? undefined : decodeFlag(def, e.text)
        if (read?._tag === "Success") stored.set(e.key, { value: read.success, revision: e.revision })
      }
      const resolved: EffectiveFlags = resolveFlags(stored, h, h.ownFlags ?? {}, revision)
      yield* Console.log(`node ${h.nodeId} (grid ${h.gridId}, channel ${h.channel}): applied flags revision ${h.flagsRevision ?? "-"}, bucket at ${revision}`)
      yield* Console.log(table(["flag", "value", "from", "key", "revision"], Object.entries(resolved.flags).map(([flag, r]) => [
        flag, String(r.value), r.source, r.key ?? "-", r.revision !== undefined ? String(r.revision) : "-"
      ])))
    }))
  })).pipe(Command.withDescription("The flags a node's next test runs under, and where each comes from"))

export const flagsCommand = Command.make("flags").pipe(
  Command.withDescription("Live flags of the fleet (KV grid_flags): list, get, set, unset, history, rollback, effective"),
  Command.withSubcommands([listCommand, getCommand, setCommand, unsetCommand, historyCommand, rollbackCommand, effectiveCommand]),
  Command.withExamples([
    { command: "grid flags set accept false", description: "Pause the fleet: every node answers new starts with paused" },
    { command: "grid flags set engine.client undici --grid acme", description: "Revert one customer's grid to the undici client" },
    { command: "grid flags set launch.channel stable --grid acme", description: "Launches for grid acme select stable nodes only" },
    { command: "grid flags rollback capacity --channel beta", description: "Restore beta's previous capacity" },
    { command: "grid flags effective --node lg-1", description: "What lg-1's next test runs under, and why" }
  ])
)
