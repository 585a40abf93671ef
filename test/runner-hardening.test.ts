// The runner's refusals and failures say what went wrong without exposing the node: a test
// whose work directory cannot be written is refused before it is accepted (`rejected`,
// `workdir_failed`), and an internal error reaches its event as one short line, never a stack
// trace (the full cause goes to the node's log). Real processes, an in-memory event sink.
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { defaultSettings } from "../src/daemon/DaemonConfig.ts"
import type { GridEvent } from "../src/protocol/events.ts"
import { Backends } from "../src/runner/Backends.ts"
import { EventSink, MemoryEvents } from "../src/runner/EventSink.ts"
import { ProcessBackend } from "../src/runner/ProcessBackend.ts"
import { ResultIngest } from "../src/runner/ResultIngest.ts"
import { TestManager } from "../src/runner/TestManager.ts"
import { ToolRegistry } from "../src/tools/ToolRegistry.ts"
import { memoryNode, tempWorkRoot } from "./support/memoryNode.ts"

const terminalKinds = new Set(["finished", "failed", "stopped", "rejected"])
const endOf = (testId: string) =>
  Effect.gen(function*() {
    const events = yield* MemoryEvents
    for (let i = 0; i < 800; i++) {
      const all = (yield* events.all).filter((e) => e.testId === testId)
      const end = all.find((e) => terminalKinds.has(e.kind))
      if (end) return { end, all }
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.die(new Error(`no terminal event for ${testId}`))
  })

/** The runner alone (TestManager over its parts, not the whole node: GridNode.layer builds
 * its own ResultIngest, and this one must die) whose result ingestion dies with a long,
 * multi-line, path-laden defect. */
const brokenIngestRunner = () => {
  const settings = defaultSettings({ nodeId: "broken-node", stopGrace: Duration.seconds(2), workDir: tempWorkRoot() })
  const defect = new Error(`ingest exploded: ${"x".repeat(400)}\n    at secret (/opt/grid-install/src/ingest/Ingestion.ts:1:1)`)
  const base = Layer.mergeAll(
    Backends.processOnly.pipe(Layer.provide(ProcessBackend.layer({ forcedGrace: "2 seconds" }))),
    ToolRegistry.layer,
    Layer.succeed(ResultIngest, ResultIngest.of({ start: () => Effect.die(defect) })),
    EventSink.memory
  ).pipe(Layer.provideMerge(MemoryEvents.layer), Layer.provideMerge(NodeServices.layer))
  return TestManager.layer(settings).pipe(Layer.provideMerge(base))
}

describe("runner refusals and failures", () => {
  it.live("a work directory that cannot be created is refused before accepting: rejected, workdir_failed", () => {
    // A file where the node's work root should be: every directory below it fails.
    const blocked = path.join(tempWorkRoot(), "a-file")
    fs.writeFileSync(blocked, "in the way")
    return Effect.gen(function*() {
      const manager = yield* TestManager
      yield* manager.handle({ kind: "start", commandId: "wd-1", testId: "wd-fail", tool: "command", params: { command: ["true"] } })
      const { end, all } = yield* endOf("wd-fail")
      assert.deepStrictEqual(all.map((e) => e.kind), ["rejected"])
      assert.strictEqual((end as Extract<GridEvent, { kind: "rejected" }>).code, "workdir_failed")
      assert.match((end as Extract<GridEvent, { kind: "rejected" }>).message, /cannot create/)
      // Refused, not run: the same test id may come again once the disk is fixed.
      fs.rmSync(blocked)
      while ((yield* manager.running).length > 0) yield* Effect.sleep("10 millis")
      yield* manager.handle({ kind: "start", commandId: "wd-2", testId: "wd-fail", tool: "command", params: { command: ["true"] } })
      for (let i = 0; i < 400; i++) {
        const ends = (yield* (yield* MemoryEvents).all).filter((e) => e.testId === "wd-fail" && e.kind === "finished")
        if (ends.length > 0) return
        yield* Effect.sleep("25 millis")
      }
      assert.fail(`the corrected start did not finish: ${JSON.stringify((yield* (yield* MemoryEvents).all))}`)
    }).pipe(Effect.provide(memoryNode({ workDir: blocked }).layer))
  })

  it.live("an internal error's event carries a short one-line message, never a stack trace", () =>
    Effect.gen(function*() {
      const manager = yield* TestManager
      yield* manager.handle({
        kind: "start",
        commandId: "ie-1",
        testId: "internal",
        tool: "command",
        params: { command: ["sleep", "30"], results: { path: "r.jtl", format: "jmeter" } }
      })
      const { end } = yield* endOf("internal")
      assert.strictEqual(end.kind, "failed")
      const error = (end as Extract<GridEvent, { kind: "failed" }>).error
      assert.strictEqual(error.code, "internal_error")
      assert.notInclude(error.message, "\n")
      assert.notInclude(error.message, "/opt/grid-install")
      assert.notMatch(error.message, /\bat \S+ \(/)
      assert.isTrue(error.message.startsWith("ingest exploded: xxx"), error.message)
      assert.isTrue(error.message.endsWith("…[cut]"), error.message)
      assert.isAtMost(error.message.length, 200 + "…[cut]".length)
      // The tool it had started is gone and said so.
      assert.isTrue((end as Extract<GridEvent, { kind: "failed" }>).cleanup.removed.some((r) => r.startsWith("process group ")))
    }).pipe(Effect.provide(brokenIngestRunner())))
})
