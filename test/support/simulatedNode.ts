// A node simulated on a MemoryBus (src/controller/MemoryBus.ts): it puts its heartbeat, follows
// the commands sent to it and answers the way docs/protocol.md says a node does (accepted,
// ready at a barrier, started, result windows, finished; stopped on a stop), or is lost
// part-way (heartbeat deleted, or heartbeats that no longer list the test) to test node loss.
import { Clock, Effect, type Scope, Stream } from "effect"
import type { MemoryBus } from "../../src/controller/MemoryBus.ts"
import type { Command } from "../../src/protocol/commands.ts"
import type { Heartbeat } from "../../src/protocol/health.ts"
import { encodeHistogram, newHistogram } from "../../src/protocol/results.ts"

export interface SimulatedNodeOptions {
  /** Result windows per run; the last is `final`. Default 3. 0: a tool without results
   * (no window at all, `finished` with `summary: null`, as a `command` tool without one). */
  readonly windows?: number
  /** Requests in each window, all of 2 ms. Default 10. */
  readonly perWindow?: number
  /** After this many windows the node is lost: how depends on `loss`, then it goes silent. */
  readonly loseAfter?: number
  /** `deleted`: its heartbeat is deleted; `unlisted`: two heartbeats no longer list the test;
   * `silent`: nothing more at all (killed hard: the heartbeat expires). */
  readonly loss?: "deleted" | "unlisted" | "silent"
  /** Answer a start with `rejected` and this code instead. */
  readonly reject?: "busy" | "unsupported_tool"
  /** Windows from this seq on never reach the controller (the node still finishes). */
  readonly withholdFrom?: number
  /** Before its first real event, publish messages a newer or buggy node could send. */
  readonly noise?: ReadonlyArray<unknown>
}

const cleanup = { ok: true, removed: [], errors: [] }

export const heartbeatOf = (nodeId: string, tests: ReadonlyArray<string>, at: string): Heartbeat => ({
  nodeId,
  gridId: "grid",
  version: "test",
  channel: "stable",
  labels: {},
  state: tests.length > 0 ? "busy" : "idle",
  tests,
  capacity: 1,
  tools: ["builtin"],
  runners: ["process"],
  cpu: { cores: 1, load1: 0, usagePct: 0 },
  memory: { totalMb: 1, freeMb: 1, rssMb: 1 },
  disk: { workDir: "/tmp", freeMb: 1 },
  startedAt: at,
  at
})

export const windowLabel = (label: string, count: number) => {
  const h = newHistogram()
  for (let i = 0; i < count; i++) h.recordValue(2000)
  return { label, count, errors: 0, bytesIn: 0, bytesOut: 0, latencyMs: { min: 2, mean: 2, p50: 2, p90: 2, p95: 2, p99: 2, max: 2 }, status: { "200": count }, hdr: encodeHistogram(h) }
}

/** Runs the node in the current scope until the scope closes. */
export const simulatedNode = (bus: MemoryBus, nodeId: string, options: SimulatedNodeOptions = {}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())
    // What the heartbeat lists; undefined once the node is silent (killed hard).
    let tests: ReadonlyArray<string> | undefined = []
    const beat = Effect.flatMap(now, (at) => (tests === undefined ? Effect.void : bus.putHeartbeat(nodeId, heartbeatOf(nodeId, tests, at))))
    yield* beat
    // Every 100 ms, as a node does every heartbeat interval.
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep("100 millis"), beat)))
    const windows = options.windows ?? 3
    const perWindow = options.perWindow ?? 10
    let ended = false
    const event = (c: { testId: string; commandId: string }, kind: string, fields: object = {}) =>
      Effect.flatMap(now, (at) => bus.publishEvent(c.testId, nodeId, { kind, testId: c.testId, nodeId, commandId: c.commandId, at, ...fields }))
    const run = (start: { testId: string; commandId: string }) =>
      Effect.gen(function*() {
        yield* event(start, "started", { pid: 4242 })
        const t0 = yield* Clock.currentTimeMillis
        for (let seq = 0; seq < windows && !ended; seq++) {
          const count = perWindow
          if (seq < (options.withholdFrom ?? Infinity)) yield* bus.publishWindow(start.testId, nodeId, {
            testId: start.testId, nodeId, seq, start: t0 + seq * 1000, end: t0 + (seq + 1) * 1000,
            labels: [windowLabel("*", count), windowLabel("home", count)], final: seq === windows - 1
          })
          if (options.loseAfter === seq + 1) {
            ended = true
            if (options.loss === "unlisted") {
              tests = []
              for (let i = 0; i < 2; i++) yield* beat
            } else {
              tests = undefined
              if (options.loss !== "silent") yield* bus.deleteHeartbeat(nodeId)
            }
            return
          }
          yield* Effect.sleep("5 millis")
        }
        if (ended) return
        ended = true
        const total = windows * perWindow
        yield* event(start, "finished", {
          exitCode: 0,
          summary: windows === 0 ? null : { count: total, errors: 0, bytesIn: 0, durationMs: windows * 1000, rps: perWindow, latencyMs: { min: 2, mean: 2, p50: 2, p90: 2, p95: 2, p99: 2, max: 2 } },
          cleanup
        })
        tests = []
        yield* beat
      })
    const handle = (c: Command): Effect.Effect<void, never, Scope.Scope> => {
      switch (c.kind) {
        case "start":
          return Effect.gen(function*() {
            for (const n of options.noise ?? []) yield* bus.publishEvent(c.testId, nodeId, n)
            if (options.reject !== undefined) return yield* event(c, "rejected", { code: options.reject, message: "simulated refusal" })
            tests = [c.testId]
            yield* beat
            yield* event(c, "accepted", { runner: "process", tool: c.tool })
            if (c.barrier === true) return yield* event(c, "ready")
            yield* Effect.forkScoped(run(c))
          })
        case "go":
          return Effect.asVoid(Effect.forkScoped(run(c)))
        case "stop":
          return Effect.gen(function*() {
            if (ended) return
            ended = true
            yield* event(c, "stopped", { reason: c.reason ?? "stop", cleanup, summary: null })
            tests = []
            yield* beat
          })
        case "drain":
          return Effect.void
      }
    }
    yield* bus.commands(nodeId).pipe(Stream.runForEach(handle), Effect.forkScoped)
  })
