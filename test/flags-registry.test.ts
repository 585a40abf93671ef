// Issue #13, the flags' model without NATS: the key grammar, every flag's Schema (a bad value
// is refused naming the allowed ones), the precedence node > grid > channel > global > daemon >
// default with the source of each value, and the node's snapshot over the memory FlagStore: a
// value that fails its Schema is counted and leaves the previous one in force, another node's
// keys are not its business, docs/operations.md lists every flag of the registry, and a launch
// does not select a node the flag accept=false paused.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeFlag, flagDef, flagDefs, keyOf, parseKey } from "../src/flags/FlagRegistry.ts"
import { type EffectiveFlags, resolveFlags, type StoredFlag } from "../src/flags/FlagResolver.ts"
import { FlagStore } from "../src/flags/FlagStore.ts"
import { NodeFlags } from "../src/flags/NodeFlags.ts"
import { type NodeInfo, SelectionError, selectNodes } from "../src/controller/Selection.ts"

const node = { nodeId: "n1", gridId: "acme", channel: "beta" }

describe("flag keys and values", () => {
  it("keys round-trip through the grammar; others are not flag keys", () => {
    for (const k of [{ scope: "global", flag: "accept" }, { scope: "channel", target: "beta", flag: "tools.k6.image" }, { scope: "node", target: "lg-1", flag: "runner.default" }] as const) {
      expect(parseKey(keyOf(k))).toEqual(k.scope === "global" ? { scope: "global", flag: k.flag } : k)
    }
    expect(parseKey("global")).toBeUndefined()
    expect(parseKey("channel.beta")).toBeUndefined()
    expect(parseKey("cluster.x.accept")).toBeUndefined()
    expect(parseKey("node.a b.accept")).toBeUndefined()
  })

  it("each flag's Schema takes its values and refuses others, naming what is allowed", () => {
    const ok = (flag: string, text: string) => decodeFlag(flagDef(flag)!, text)
    expect(ok("accept", "false")).toMatchObject({ _tag: "Success", success: false })
    expect(ok("capacity", "4")).toMatchObject({ _tag: "Success", success: 4 })
    expect(ok("runner.default", "docker")).toMatchObject({ _tag: "Success", success: "docker" })
    expect(ok("engine.client", "undici")).toMatchObject({ _tag: "Success", success: "undici" })
    expect(ok("tools.k6.path", "/opt/k6/bin/k6")).toMatchObject({ _tag: "Success" })
    expect(ok("tools.jmeter.image", "justb4/jmeter:5.6")).toMatchObject({ _tag: "Success" })
    const refused: Array<[string, string, string]> = [
      ["accept", "no", "true or false"],
      ["capacity", "0", "a whole number from 1 to 1024"],
      ["capacity", "2.5", "a whole number"],
      ["runner.default", "kubernetes", "process or docker"],
      ["engine.client", "fetch", "lean or undici"],
      ["tools.k6.path", "k6", "an absolute path"],
      ["launch.channel", "be.ta", "a channel name"]
    ]
    for (const [flag, text, allowed] of refused) {
      const r = decodeFlag(flagDef(flag)!, text)
      expect(r._tag, `${flag}=${text}`).toBe("Failure")
      expect(r._tag === "Failure" && r.failure).toContain(allowed)
    }
    expect(flagDef("tools.command.path")).toBeUndefined()
    expect(flagDef("tools.builtin.path")).toBeUndefined()
    expect(flagDef("nope")).toBeUndefined()
  })

  it("precedence: node > grid > channel > global > daemon > default, each with its source", () => {
    const stored = new Map<string, StoredFlag>([
      ["global.capacity", { value: 2, revision: 1 }],
      ["channel.beta.capacity", { value: 3, revision: 2 }],
      ["grid.acme.capacity", { value: 4, revision: 3 }],
      ["channel.stable.engine.client", { value: "undici", revision: 4 }],
      ["global.engine.client", { value: "lean", revision: 5 }],
      ["grid.other.accept", { value: false, revision: 6 }],
      // launch.channel is grid-scoped: a global value is no value.
      ["global.launch.channel", { value: "beta", revision: 7 }]
    ])
    const daemon = { capacity: 8, "runner.default": "docker" }
    let e = resolveFlags(stored, node, daemon, 7)
    expect(e.flags.capacity).toEqual({ value: 4, source: "grid", key: "grid.acme.capacity", revision: 3 })
    expect(e.flags["engine.client"]).toEqual({ value: "lean", source: "global", key: "global.engine.client", revision: 5 })
    expect(e.flags["runner.default"]).toEqual({ value: "docker", source: "daemon" })
    expect(e.flags.accept).toEqual({ value: true, source: "default" })
    expect(e.flags["launch.channel"]).toBeUndefined()
    stored.set("node.n1.capacity", { value: 5, revision: 8 })
    e = resolveFlags(stored, node, daemon, 8)
    expect(e.flags.capacity).toMatchObject({ value: 5, source: "node" })
    stored.delete("node.n1.capacity")
    stored.delete("grid.acme.capacity")
    expect(resolveFlags(stored, node, daemon, 9).flags.capacity).toMatchObject({ value: 3, source: "channel" })
    stored.delete("channel.beta.capacity")
    stored.delete("global.capacity")
    expect(resolveFlags(stored, node, daemon, 10).flags.capacity).toEqual({ value: 8, source: "daemon" })
  })

  it("docs/operations.md documents every flag of the registry", () => {
    const doc = fs.readFileSync(path.join(import.meta.dirname, "..", "docs", "operations.md"), "utf8")
    for (const d of flagDefs) expect(doc, d.name).toContain(`| \`${d.name}\` |`)
  })
})

describe("the node's snapshot over a FlagStore", () => {
  const env = NodeFlags.layer({ ...node, daemonFlags: { capacity: 1 } }).pipe(Layer.provideMerge(FlagStore.memory))
  const capacityOf = Effect.flatMap(NodeFlags, (f) => Effect.map(f.current, (e) => e.flags.capacity))
  /** Until a snapshot satisfies `done` (the store's watch is asynchronous). */
  const until = (done: (e: EffectiveFlags) => boolean) =>
    Effect.flatMap(NodeFlags, (f) => f.changes.pipe(Stream.takeUntil(done), Stream.runDrain))

  it.effect("a value that fails its Schema is counted and the previous one stays; unset falls back", () =>
    Effect.gen(function*() {
      const store = yield* FlagStore
      const flags = yield* NodeFlags
      const wait = (rev: number) => until((e) => e.revision >= rev)
      const r1 = yield* store.put("channel.beta.capacity", "3")
      yield* wait(r1)
      expect(yield* capacityOf).toMatchObject({ value: 3, source: "channel" })
      yield* store.put("channel.beta.capacity", "three")
      yield* store.put("node.n2.capacity", "nonsense") // another node's: not this node's problem
      const r2 = yield* store.put("global.engine.client", "undici")
      yield* wait(r2)
      expect(yield* capacityOf).toMatchObject({ value: 3, revision: r1 })
      expect(yield* flags.invalid).toBe(1)
      yield* store.remove("channel.beta.capacity")
      yield* until((e) => e.flags.capacity?.source === "daemon")
      expect(yield* capacityOf).toEqual({ value: 1, source: "daemon" })
    }).pipe(Effect.provide(env)))
})

describe("a launch's selection and paused nodes", () => {
  const hb = (nodeId: string, accepting?: boolean): NodeInfo => ({
    ageMs: 0,
    heartbeat: {
      nodeId, gridId: "acme", version: "0", channel: "stable", labels: {}, state: "idle", tests: [], capacity: 1,
      tools: ["command"], runners: ["process"], cpu: { cores: 1, load1: 0, usagePct: 0 }, memory: { totalMb: 1, freeMb: 1, rssMb: 1 },
      disk: { workDir: "/", freeMb: 1 }, startedAt: "2026-01-01T00:00:00Z", at: "2026-01-01T00:00:00Z",
      ...(accepting !== undefined ? { accepting } : {})
    }
  })
  it("skips a node the flag accept=false paused, and says so when it is all there is", () => {
    expect(selectNodes([hb("a", false), hb("b", true), hb("c")], "command", { grid: "acme" })).toEqual(["b", "c"])
    const none = selectNodes([hb("a", false)], "command", { grid: "acme", count: 1 })
    expect(none instanceof SelectionError && none.message).toContain("a (idle, paused)")
  })
})
