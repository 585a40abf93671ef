// The controller's pure parts: plan checking (every problem at once, nothing sent), load
// splitting without losing a remainder, node selection errors, and the window merger (counts
// add up, p99 is the union's p99 and not an average, repeated windows dropped, emission waits
// for every node or the lag bound).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { WindowMerger } from "../src/controller/Merger.ts"
import { decodePlan, type Plan, PlanError } from "../src/controller/Plan.ts"
import { type NodeInfo, SelectionError, selectNodes } from "../src/controller/Selection.ts"
import { splitInt, splitRate, startCommands } from "../src/controller/Split.ts"
import type { Heartbeat } from "../src/protocol/health.ts"
import { encodeHistogram, newHistogram, type ResultWindow } from "../src/protocol/results.ts"

const scenario = {
  target: "http://127.0.0.1:9",
  requests: [{ name: "home", path: "/home" }, { name: "item", path: "/item" }],
  load: { model: "closed", users: 10, durationSeconds: 5 }
}
const plan = (raw: unknown) => decodePlan(raw, "plan.yaml")
const planError = (raw: unknown): Effect.Effect<ReadonlyArray<string>> =>
  Effect.flatMap(Effect.exit(decodePlan(raw, "plan.yaml")), (exit) => {
    if (Exit.isSuccess(exit)) return Effect.die(new Error("expected a PlanError"))
    const e = (exit.cause as unknown as { reasons: Array<{ error: unknown }> }).reasons[0]!.error
    expect(e).toBeInstanceOf(PlanError)
    return Effect.succeed((e as PlanError).problems)
  })

describe("splitting", () => {
  it("spreads the remainder: 10 users on 3 nodes are 4,3,3, and every split sums to the total", () => {
    expect(splitInt(10, 3)).toEqual([4, 3, 3])
    for (let total = 0; total < 50; total++) {
      for (let n = 1; n < 8; n++) {
        const parts = splitInt(total, n)
        expect(parts.reduce((a, b) => a + b, 0)).toBe(total)
        expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1)
      }
    }
    expect(splitRate(100, 3)).toEqual([34, 33, 33])
    expect(splitRate(2.5, 2)).toEqual([1.25, 1.25])
  })

  it.effect("puts a builtin node's share in params and scales stages in the shipped scenario", () =>
    Effect.gen(function*() {
      const flat = yield* plan({ tool: "builtin", scenario, params: { target: "http://127.0.0.1:8080" } })
      const cmds = startCommands(flat, "t-1", ["a", "b", "c"], true)
      expect(cmds.map((c) => c.command.params!.users)).toEqual([4, 3, 3])
      expect(cmds.every((c) => c.command.barrier === true && c.command.entry === "scenario.json")).toBe(true)
      expect(cmds[0]!.command.params!.target).toBe("http://127.0.0.1:8080")
      const staged = yield* plan({
        tool: "builtin",
        scenario: { ...scenario, load: { model: "open", stages: [{ durationSeconds: 2, rate: 10 }, { durationSeconds: 2, rate: 20 }] } }
      })
      const shipped = startCommands(staged, "t-2", ["a", "b", "c"], false).map((c) => JSON.parse(c.command.files![0]!.content))
      expect(shipped.map((s) => s.load.stages.map((st: { rate: number }) => st.rate))).toEqual([[4, 7], [3, 7], [3, 6]])
    }))
})

describe("plans", () => {
  it.effect("reports every problem of a bad plan together", () =>
    Effect.gen(function*() {
      const problems = yield* planError({
        tool: "builtin",
        scenario: { ...scenario, load: { model: "closed", durationSeconds: 5 } },
        thresholds: ["p95 < fast", "nope: p99 < 1s"],
        params: { users: -1 }
      })
      expect(problems.join("\n")).toMatch(/params.users/)
      expect(problems.join("\n")).toMatch(/thresholds\[0\]/)
      expect(problems.length).toBeGreaterThanOrEqual(2)
      expect((yield* planError({ tool: "wrk" })).join()).toMatch(/tool/)
      expect((yield* planError({ tool: "builtin" })).join()).toMatch(/scenario: required/)
      expect((yield* planError({ tool: "jmeter", entry: "x.jmx", files: [{ path: "../x.jmx", content: "" }] })).join("\n")).toMatch(/escapes|not among files/)
      expect((yield* planError({ tool: "builtin", scenario, typo: 1 })).join()).toMatch(/typo/)
    }))

  it.effect("takes the scenario's thresholds and the plan's", () =>
    Effect.gen(function*() {
      const p: Plan = yield* plan({ tool: "builtin", scenario: { ...scenario, thresholds: ["p95 < 1s"] }, thresholds: ["item: errors < 1%"] })
      expect(p.thresholds.map((t) => t.source)).toEqual(["p95 < 1s", "item: errors < 1%"])
      expect(p.load).toEqual({ kind: "users", users: 10 })
    }))
})

const hb = (nodeId: string, over: Partial<Heartbeat> = {}): NodeInfo => ({
  ageMs: 100,
  heartbeat: {
    nodeId,
    gridId: "g1",
    version: "0.1.0",
    channel: "stable",
    labels: { zone: "a" },
    state: "idle",
    tests: [],
    capacity: 1,
    tools: ["builtin", "command"],
    runners: ["process"],
    cpu: { cores: 2, load1: 0, usagePct: 0 },
    memory: { totalMb: 1000, freeMb: 500, rssMb: 50 },
    disk: { workDir: "/tmp", freeMb: 1000 },
    startedAt: "2026-01-01T00:00:00Z",
    at: "2026-01-01T00:00:00Z",
    ...over
  }
})

describe("node selection", () => {
  const live = [hb("a"), hb("b", { state: "busy", tests: ["t0"] }), hb("c", { labels: { zone: "b" } }), hb("d", { tools: ["command"] })]
  const err = (r: unknown) => (r instanceof SelectionError ? r.message : `not an error: ${JSON.stringify(r)}`)
  it("takes named idle nodes offering the tool", () => {
    expect(selectNodes(live, "builtin", { nodes: ["c", "a"] })).toEqual(["c", "a"])
    expect(err(selectNodes(live, "builtin", { nodes: ["a", "zz"] }))).toMatch(/unknown node zz/)
    expect(err(selectNodes(live, "builtin", { nodes: ["d"] }))).toMatch(/tool builtin is not offered by d/)
    expect(err(selectNodes(live, "builtin", { nodes: ["b"] }))).toMatch(/not idle: b \(busy: t0\)/)
  })
  it("filters by grid, labels and count, and says why too few are left", () => {
    expect(selectNodes(live, "builtin", { grid: "g1" })).toEqual(["a", "c"])
    expect(selectNodes(live, "builtin", { labels: { zone: "a" }, count: 1 })).toEqual(["a"])
    expect(err(selectNodes(live, "builtin", { count: 3 }))).toMatch(/too few idle nodes with tool builtin: need 3, 2 idle \(not idle: b/)
    expect(err(selectNodes(live, "k6", {}))).toMatch(/no node offers tool k6/)
    expect(err(selectNodes(live, "builtin", { grid: "g2" }))).toMatch(/no live node matching grid g2/)
  })
  it("takes a node listed twice once (its heartbeat renewed while the bucket was listed), by its freshest heartbeat", () => {
    const twice = [...live, { ...hb("a", { state: "busy", tests: ["t9"] }), ageMs: 5000 }, hb("c")]
    expect(selectNodes(twice, "builtin", {})).toEqual(["a", "c"])
    expect(err(selectNodes(twice, "builtin", { count: 3 }))).toMatch(/need 3, 2 idle/)
  })
})

/** A window whose `*` label holds exactly the given latencies (ms). */
const windowOf = (nodeId: string, seq: number, latenciesMs: ReadonlyArray<number>, final = false): ResultWindow => {
  const h = newHistogram()
  for (const v of latenciesMs) h.recordValue(Math.round(v * 1000))
  const count = latenciesMs.length
  const label = {
    count,
    errors: 0,
    bytesIn: count * 10,
    bytesOut: 0,
    latencyMs: { min: Math.min(...latenciesMs), mean: latenciesMs.reduce((a, b) => a + b, 0) / count, p50: 0, p90: 0, p95: 0, p99: 0, max: Math.max(...latenciesMs) },
    status: { "200": count },
    hdr: encodeHistogram(h)
  }
  return { testId: "t", nodeId, seq, start: 1_000_000 + seq * 1000, end: 1_000_000 + seq * 1000 + 1000, labels: [{ ...label, label: "*" }, { ...label, label: "home" }], final }
}

describe("window merger", () => {
  it("merges by histogram: the count adds up and p99 is the union's, not the mean of the nodes' p99", () => {
    // Node a is fast, node b is slow: the mean of their p99s is far from the union's p99.
    const fast = Array.from({ length: 990 }, (_, i) => 1 + (i % 10))
    const slow = Array.from({ length: 10 }, (_, i) => 500 + i * 10)
    const m = new WindowMerger(["a", "b"])
    m.add(windowOf("a", 0, fast.slice(0, 500)), 0)
    m.add(windowOf("a", 1, fast.slice(500), true), 0)
    m.add(windowOf("b", 0, slow, true), 0)
    expect(m.add(windowOf("a", 0, fast.slice(0, 500)), 0)).toBe(false) // a repeated window
    m.flush()
    const s = m.summary(false)
    expect(s.total.count).toBe(1000)
    expect(m.duplicates).toBe(1)
    const union = newHistogram()
    for (const v of [...fast, ...slow]) union.recordValue(v * 1000)
    expect(s.total.latencyMs.p99).toBeCloseTo(union.getValueAtPercentile(99) / 1000, 1)
    expect(s.total.latencyMs.max).toBe(590)
    expect(s.labels.map((l) => l.label)).toEqual(["home"])
  })

  it("emits a second once every node delivered it, or after the lag bound, in order", () => {
    const m = new WindowMerger(["a", "b"], { lagMs: 1000 })
    m.add(windowOf("a", 0, [1, 2]), 0)
    expect(m.tick(10)).toEqual([])
    m.add(windowOf("b", 0, [3]), 20)
    expect(m.tick(30).map((p) => [p.seq, p.count])).toEqual([[0, 3]])
    m.add(windowOf("a", 1, [1]), 40)
    expect(m.tick(900)).toEqual([])
    expect(m.tick(1100).map((p) => [p.seq, p.count])).toEqual([[1, 1]])
    // b's late window still counts in the final points and totals.
    m.add(windowOf("b", 1, [5, 5]), 1200)
    m.flush()
    expect(m.series.map((p) => p.count)).toEqual([3, 3])
    expect(m.summary(false).total.count).toBe(6)
  })

  it("does not wait for a node that is gone or has sent its final window", () => {
    const m = new WindowMerger(["a", "b", "c"], { lagMs: 60_000 })
    m.add(windowOf("a", 0, [1], true), 0)
    m.add(windowOf("b", 0, [1]), 0)
    m.nodeGone("c")
    expect(m.tick(1).map((p) => p.seq)).toEqual([0])
    m.add(windowOf("b", 1, [1], true), 2)
    expect(m.tick(3).map((p) => p.seq)).toEqual([1])
    expect(m.allFinal).toBe(true)
  })
})
