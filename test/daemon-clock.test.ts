// Timing logic under TestClock: heartbeats are put every interval, a test's time bound and its
// barrier wait fire at the simulated instant, not in wall-clock time. The processes are real.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { NodeRegistry } from "../src/health/NodeRegistry.ts"
import type { GridEvent } from "../src/protocol/events.ts"
import type { Heartbeat } from "../src/protocol/health.ts"
import { MemoryEvents } from "../src/runner/EventSink.ts"
import { makeTestControl } from "../src/runner/TestControl.ts"
import { TestManager } from "../src/runner/TestManager.ts"
import { runTest } from "../src/runner/TestRun.ts"
import { memoryNode } from "./support/memoryNode.ts"

/** Waits in real time (the TestClock does not move by itself) for an event of the test. */
const waitFor = (testId: string, kind: GridEvent["kind"]) =>
  Effect.gen(function*() {
    const events = yield* MemoryEvents
    for (let i = 0; i < 400; i++) {
      const found = (yield* events.all).find((e) => e.testId === testId && e.kind === kind)
      if (found) return found
      yield* TestClock.withLive(Effect.sleep("25 millis"))
    }
    return yield* Effect.die(new Error(`no ${kind} event for ${testId}`))
  })

describe("timing under TestClock", () => {
  it.effect("puts a heartbeat every interval", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<Heartbeat | { removed: string }>>([])
      const { layer } = memoryNode({ heartbeatInterval: Duration.seconds(5) }, NodeRegistry.memory(log))
      const fiber = yield* Effect.never.pipe(Effect.provide(layer), Effect.forkChild)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Ref.get(log)).length, 1)
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual((yield* Ref.get(log)).length, 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Ref.get(log)).length, 2)
      yield* TestClock.adjust("15 seconds")
      const beats = (yield* Ref.get(log)) as ReadonlyArray<Heartbeat>
      assert.strictEqual(beats.length, 5)
      assert.strictEqual(beats[0]!.state, "idle")
      assert.includeMembers([...beats[0]!.tools], ["builtin", "command"])
      yield* Fiber.interrupt(fiber)
      // The node's release removes its heartbeat.
      assert.deepStrictEqual((yield* Ref.get(log)).at(-1), { removed: "mem-node" })
    }))

  it.effect("ends a test at its maxDurationSeconds on the simulated clock", () =>
    Effect.gen(function*() {
      const manager = yield* TestManager
      yield* manager.handle({ kind: "start", commandId: "c1", testId: "slow", tool: "command", limits: { maxDurationSeconds: 600 }, params: { command: ["sleep", "300"] } })
      yield* waitFor("slow", "started")
      yield* TestClock.adjust("599 seconds")
      assert.deepStrictEqual(yield* manager.running, ["slow"])
      yield* TestClock.adjust("1 second")
      const failed = yield* waitFor("slow", "failed")
      assert.strictEqual((failed as Extract<GridEvent, { kind: "failed" }>).error.code, "max_duration")
    }).pipe(Effect.provide(memoryNode().layer)))

  it.effect("fails a barrier test that gets no go within its bound", () =>
    Effect.gen(function*() {
      const manager = yield* TestManager
      yield* manager.handle({ kind: "start", commandId: "c2", testId: "waits", tool: "command", barrier: true, limits: { maxDurationSeconds: 120 }, params: { command: ["true"] } })
      yield* waitFor("waits", "ready")
      yield* TestClock.adjust("119 seconds")
      assert.deepStrictEqual(yield* manager.running, ["waits"])
      yield* TestClock.adjust("1 second")
      const failed = yield* waitFor("waits", "failed")
      assert.strictEqual((failed as Extract<GridEvent, { kind: "failed" }>).error.code, "barrier_timeout")
    }).pipe(Effect.provide(memoryNode().layer)))
})

describe("hard interruption", () => {
  const node = memoryNode()
  it.effect("an interrupted test still closes its scope and publishes stopped with its cleanup", () =>
    Effect.gen(function*() {
      const control = yield* makeTestControl("hard", "c-hard")
      const fiber = yield* runTest({ kind: "start", commandId: "c-hard", testId: "hard", tool: "command", params: { command: ["sleep", "60"] } }, control, node.settings).pipe(
        Effect.forkChild
      )
      const started = yield* waitFor("hard", "started")
      yield* Fiber.interrupt(fiber)
      const stopped = (yield* waitFor("hard", "stopped")) as Extract<GridEvent, { kind: "stopped" }>
      assert.strictEqual(stopped.reason, "interrupted")
      assert.isTrue(stopped.cleanup.ok)
      const pid = (started as Extract<GridEvent, { kind: "started" }>).pid!
      assert.include(stopped.cleanup.removed, `process group ${pid}`)
      assert.isTrue(stopped.cleanup.removed.some((r) => r.startsWith("workdir")))
    }).pipe(Effect.provide(node.layer)))
})
