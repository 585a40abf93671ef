// The daemon's one collection after start (src/cli/idleTrim.ts): it runs once trimDelay has
// passed on the Clock, frees what is no longer reachable, and leaves no `gc` behind, neither in
// this context nor in contexts made afterwards (the flag it sets is cleared again).
import { it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { runInNewContext } from "node:vm"
import { expect } from "vitest"
import { trimAfterStart, trimDelay } from "../src/cli/idleTrim.ts"

it.effect("collects once after trimDelay, and exposes no gc to anyone", () =>
  Effect.gen(function*() {
    // Garbage only a collection can reclaim: a WeakRef's target becomes undefined once collected.
    let big: Array<number> | undefined = Array.from({ length: 100_000 }, (_, i) => i)
    const ref = new WeakRef(big)
    big = undefined
    const fiber = yield* Effect.forkChild(trimAfterStart)
    yield* TestClock.adjust(trimDelay)
    yield* Fiber.join(fiber)
    // A WeakRef's target is kept until the end of the job that read it: check in a later one.
    yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
    expect(ref.deref()).toBeUndefined()
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe("undefined")
    expect(runInNewContext("typeof gc")).toBe("undefined")
  }))
