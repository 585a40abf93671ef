// Reading events and heartbeats through their Schemas: every kind decodes, unknown fields are
// dropped, a kind this reader does not know is read as such (a newer node may add kinds), a
// known kind with missing fields is refused with one bounded line, and heartbeats of older
// nodes (no `healthy`, `problems`, `outbox`) still decode.
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { readEvent } from "../src/protocol/events.ts"
import { readHeartbeat } from "../src/protocol/health.ts"

const base = { testId: "t", nodeId: "n1", at: "2026-01-01T00:00:00.000Z" }
const cleanup = { ok: true, removed: ["workdir /tmp/x"], errors: [] }
const summary = { count: 3, errors: 0, bytesIn: 10, durationMs: 1000, rps: 3, latencyMs: { min: 1, mean: 2, p50: 2, p90: 3, p95: 3, p99: 3, max: 3 }, badLines: 0 }
const ok = (v: unknown) => {
  const r = readEvent(JSON.stringify(v))
  if (Result.isFailure(r)) throw new Error(r.failure)
  return r.success
}
const refused = (text: string) => {
  const r = readEvent(text)
  if (Result.isSuccess(r)) throw new Error(`expected a refusal, got ${JSON.stringify(r.success)}`)
  return r.failure
}

describe("events", () => {
  it("decodes every kind of docs/protocol.md and drops unknown fields", () => {
    const all = [
      { ...base, kind: "accepted", runner: "process", tool: "builtin", commandId: "c1", labels: { team: "a" } },
      { ...base, kind: "rejected", code: "busy", message: "no slot" },
      { ...base, kind: "ready" },
      { ...base, kind: "started", pid: 42 },
      { ...base, kind: "finished", exitCode: 0, summary, cleanup },
      { ...base, kind: "failed", error: { code: "tool_failed", message: "exit 1" }, cleanup, summary: null },
      { ...base, kind: "stopped", reason: "grid stop", cleanup }
    ]
    expect(all.map((e) => ok({ ...e, future: { x: 1 } }))).toEqual(all)
    // A rejected event of an unreadable command has no testId (grid.events._.<nodeId>).
    expect(ok({ kind: "rejected", nodeId: "n1", at: base.at, code: "invalid_command", message: "x" })).toMatchObject({ kind: "rejected" })
    // The substitute of an oversized event says so.
    expect(ok({ ...base, kind: "ready", truncated: true })).toMatchObject({ truncated: true })
  })

  it("reads a kind it does not know as such, keeping the envelope", () => {
    expect(ok({ ...base, kind: "paused", commandId: "c", until: "later" })).toEqual({ ...base, commandId: "c", kind: "unknown", wireKind: "paused" })
  })

  it("refuses a known kind with missing or wrong fields, and non-events, in one bounded line", () => {
    expect(refused(JSON.stringify({ ...base, kind: "finished" }))).toMatch(/not an event/)
    expect(refused(JSON.stringify({ ...base, kind: "failed", error: "boom", cleanup }))).toMatch(/not an event/)
    expect(refused(JSON.stringify({ ...base, kind: "rejected", code: "busy" }))).toMatch(/not an event/)
    expect(refused(JSON.stringify({ kind: "paused" }))).toMatch(/not an event/)
    expect(refused("[1,2]")).toMatch(/not an event/)
    expect(refused("{")).toMatch(/^not JSON/)
    const huge = refused(JSON.stringify({ ...base, kind: "finished", junk: "x".repeat(100_000) }))
    expect(huge.length).toBeLessThanOrEqual(1000 + 6)
    expect(huge).toContain("…[cut]")
  })
})

const heartbeat = {
  nodeId: "n1",
  gridId: "g",
  version: "0.1.0",
  channel: "stable",
  labels: {},
  state: "idle",
  tests: [],
  capacity: 1,
  tools: ["builtin"],
  runners: ["process"],
  cpu: { cores: 2, load1: 0.1, usagePct: 3 },
  memory: { totalMb: 100, freeMb: 50, rssMb: 10 },
  disk: { workDir: "/tmp", freeMb: 1000 },
  startedAt: base.at,
  at: base.at
}

describe("heartbeats", () => {
  it("decodes an older node's heartbeat without healthy, problems and outbox", () => {
    const r = readHeartbeat(JSON.stringify({ ...heartbeat, future: 1 }))
    expect(Result.isSuccess(r) && r.success).toEqual(heartbeat)
  })
  it("decodes the current heartbeat with its health fields", () => {
    const full = { ...heartbeat, healthy: false, problems: ["events wait"], outbox: { events: { depth: 3, oldestAgeMs: 12_000, dropped: 0 } } }
    const r = readHeartbeat(JSON.stringify(full))
    expect(Result.isSuccess(r) && r.success).toEqual(full)
  })
  it("refuses a record that is not a heartbeat, in one bounded line", () => {
    const r = readHeartbeat(JSON.stringify({ ...heartbeat, tests: "t1", pad: "y".repeat(10_000) }))
    expect(Result.isFailure(r) && r.failure).toMatch(/^not a heartbeat/)
    expect(Result.isFailure(r) && r.failure.length).toBeLessThan(450)
  })
})

describe("reject codes a newer node may add", () => {
  it("a rejected event with a code this reader does not know is read, not refused", () => {
    const text = JSON.stringify({ kind: "rejected", nodeId: "n1", testId: "t1", at: "2026-01-01T00:00:00Z", code: "paused", message: "the fleet is paused" })
    const read = readEvent(text)
    expect(Result.isSuccess(read) && read.success).toMatchObject({ kind: "rejected", code: "paused" })
  })
})
