// The ingestion pipeline under Effect's TestClock with the in-memory transport: windows closed
// by time with no seq gaps, exact totals, late samples, histogram merge = histogram of the
// union, NATS away (memory bound, spill file, in-order recovery, no loss, no duplicate), the
// ack bound, a result file followed while written, and a result file that never appears.
import { assert, describe, it } from "@effect/vitest"
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as hdr from "hdr-histogram-js"
import { Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { startIngestion } from "../src/ingest/Ingestion.ts"
import { makeMemoryTransport, ResultTransport, ResultTransportError } from "../src/ingest/ResultTransport.ts"
import type { Sample } from "../src/ingest/Sample.ts"
import { decodeHistogram, type ResultWindow } from "../src/protocol/results.ts"
import { mergeWindows } from "../src/report/mergeWindows.ts"

const tmp = () => mkdtempSync(join(tmpdir(), "grid-ingest-"))

const sample = (timestamp: number, label: string, latencyMs: number, success = true): Sample => ({
  timestamp,
  label,
  latencyMs,
  success,
  status: success ? "200" : "500",
  bytesIn: 100,
  bytesOut: 10,
  error: success ? undefined : "boom"
})

/** Windows are contiguous from 0, only the last is final, `*` adds up its labels. */
const checkWindows = (ws: ReadonlyArray<ResultWindow>) => {
  assert.deepStrictEqual(ws.map((w) => w.seq), ws.map((_, i) => i))
  assert.deepStrictEqual(ws.map((w) => w.final), ws.map((_, i) => i === ws.length - 1))
  for (const w of ws) {
    assert.strictEqual(w.end - w.start, 1000)
    if (w.labels.length === 0) continue
    const [all, ...rest] = w.labels
    assert.strictEqual(all!.label, "*")
    assert.strictEqual(all!.count, rest.reduce((a, l) => a + l.count, 0))
    assert.strictEqual(all!.errors, rest.reduce((a, l) => a + l.errors, 0))
    assert.strictEqual(decodeHistogram(all!.hdr).totalCount, all!.count)
  }
}

const total = (ws: ReadonlyArray<ResultWindow>) => ws.reduce((a, w) => a + (w.labels[0]?.count ?? 0), 0)

describe("ingestion pipeline", () => {
  it.effect("closes windows by Clock, without seq gaps, and the totals are exact", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const mem = makeMemoryTransport()
      // 2 s late allowance (a result file's; pushed samples default to 500 ms).
      const handle = yield* startIngestion({ testId: "t1", nodeId: "n1", source: "push", spillDir: dir, lateMs: 2000 }).pipe(
        Effect.provide(ResultTransport.layerMemory(mem))
      )
      const values: Array<number> = []
      let pushed = 0
      // Seconds 0-3 carry samples, 4-6 none; 1 in 10 fails.
      for (let second = 0; second < 4; second++) {
        for (let i = 0; i < 50; i++) {
          const v = 1 + ((i * 37 + second * 11) % 400) / 3
          values.push(v)
          handle.sink(sample(second * 1000 + i * 20, i % 2 === 0 ? "a" : "b", v, i % 10 !== 0))
          pushed++
        }
        yield* TestClock.adjust(1000)
      }
      // By now (4 s) windows 0 and 1 are closed (end + 2 s late allowance): a sample for
      // window 0 arrives late and goes into the oldest open window, 2.
      assert.deepStrictEqual(mem.windows.map((w) => w.seq), [0, 1])
      handle.sink(sample(500, "a", 7))
      values.push(7)
      pushed++
      yield* TestClock.adjust(2500)
      const report = yield* handle.finish
      const ws = mem.windows
      checkWindows(ws)
      assert.strictEqual(ws.length, 7) // seq 0..6: the clock is at 6.5 s
      assert.strictEqual(report.windows, 7)
      assert.strictEqual(report.unacked, 0)
      assert.strictEqual(total(ws), pushed)
      assert.strictEqual(ws[2]!.labels[0]!.count, 51)
      assert.deepStrictEqual(ws.slice(4).map((w) => w.labels), [[], [], []])
      assert.strictEqual(report.summary.count, pushed)
      assert.strictEqual(report.summary.errors, 20)
      assert.strictEqual(report.summary.bytesIn, pushed * 100)
      assert.strictEqual(report.summary.durationMs, 6500)
      // Percentiles over windows come from merged histograms, equal to the union's.
      const merged = { histogram: mergeWindows(ws).all!.rec.toHistogram() }
      const union = hdr.build({ numberOfSignificantValueDigits: 3 })
      for (const v of values) union.recordValue(Math.round(v * 1000))
      assert.strictEqual(merged.histogram.totalCount, union.totalCount)
      for (const p of [1, 25, 50, 90, 95, 99, 99.9, 100]) {
        assert.strictEqual(merged.histogram.getValueAtPercentile(p), union.getValueAtPercentile(p), `p${p}`)
      }
      assert.strictEqual(report.summary.latencyMs.p99, union.getValueAtPercentile(99) / 1000)
      assert.strictEqual(report.summary.latencyMs.max, Math.max(...values))
      rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("NATS away: windows wait in memory, spill past the bound, and are all published in order once it returns", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const mem = makeMemoryTransport()
      mem.setFailing(true)
      const handle = yield* startIngestion({
        testId: "t2",
        nodeId: "n1",
        source: "push",
        spillDir: dir,
        memoryWindows: 3,
        retryDelay: "100 millis",
        maxRetryDelay: "1 second"
      }).pipe(Effect.provide(ResultTransport.layerMemory(mem)))
      let pushed = 0
      for (let second = 0; second < 12; second++) {
        for (let i = 0; i < 10; i++, pushed++) handle.sink(sample(second * 1000 + i * 100, "x", 5 + i))
        yield* TestClock.adjust(1000)
      }
      assert.strictEqual(mem.windows.length, 0)
      assert.isTrue(readdirSync(dir).some((f) => f.startsWith("grid-results-spill-")), "windows past the bound are spilled")
      mem.setFailing(false)
      yield* TestClock.adjust(2000)
      const report = yield* handle.finish
      checkWindows(mem.windows)
      assert.strictEqual(total(mem.windows), pushed)
      assert.strictEqual(report.unacked, 0)
      assert.strictEqual(mem.duplicates(), 0)
      assert.deepStrictEqual(readdirSync(dir), [], "the spill file is gone once drained")
      rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("a window whose ack was lost is retried and deduplicated, never lost or doubled", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const mem = makeMemoryTransport()
      let lostAcks = 0
      // The server stores seq 1 and 2 but the acks never arrive (NATS restarting mid-publish).
      const flaky = Layer.succeed(ResultTransport, {
        maxBytes: mem.service.maxBytes,
        publish: (w) =>
          Effect.flatMap(mem.service.publish(w), () =>
            (w.seq === 1 || w.seq === 2) && lostAcks < 4
              ? (lostAcks++, Effect.fail(new ResultTransportError({ message: "ack lost" })))
              : Effect.void)
      })
      const handle = yield* startIngestion({ testId: "t3", nodeId: "n1", source: "push", spillDir: dir }).pipe(
        Effect.provide(flaky)
      )
      for (let second = 0; second < 5; second++) {
        handle.sink(sample(second * 1000 + 10, "x", 3))
        yield* TestClock.adjust(1000)
      }
      // Retries of the lost acks back off through the Clock: let it run while finish waits.
      const finishing = yield* Effect.forkChild(handle.finish)
      yield* TestClock.adjust(10_000)
      const report = yield* Fiber.join(finishing)
      checkWindows(mem.windows)
      assert.strictEqual(total(mem.windows), 5)
      assert.isAbove(mem.duplicates(), 0)
      assert.strictEqual(report.unacked, 0)
      rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("finish waits for acks only up to its bound and says how many are missing", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const mem = makeMemoryTransport()
      mem.setFailing(true)
      const handle = yield* startIngestion({ testId: "t4", nodeId: "n1", source: "push", spillDir: dir, ackTimeout: "5 seconds" })
        .pipe(Effect.provide(ResultTransport.layerMemory(mem)))
      handle.sink(sample(100, "x", 3))
      yield* TestClock.adjust(2500)
      const finishing = yield* Effect.forkChild(handle.finish)
      yield* TestClock.adjust(6000)
      const report = yield* Fiber.join(finishing)
      assert.strictEqual(report.windows, 3)
      assert.strictEqual(report.unacked, 3)
      assert.strictEqual(report.summary.count, 1)
      rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("follows a JTL while it is written, partial lines included", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = join(dir, "results.jtl")
      const mem = makeMemoryTransport()
      const handle = yield* startIngestion({
        testId: "t5",
        nodeId: "n1",
        source: { file, format: "jmeter" },
        spillDir: dir
      }).pipe(Effect.provide(ResultTransport.layerMemory(mem)))
      yield* TestClock.adjust(500)
      appendFileSync(file, "timeStamp,elapsed,label,responseCode,success,bytes\n")
      let written = 0
      for (let second = 0; second < 4; second++) {
        for (let i = 0; i < 20; i++, written++) {
          const line = `${second * 1000 + i * 50},${10 + i},${i % 3 === 0 ? "login" : "home"},200,true,512\n`
          // Half a line now, the rest on the next tick.
          appendFileSync(file, line.slice(0, 9))
          yield* TestClock.adjust(100)
          appendFileSync(file, line.slice(9))
        }
        yield* TestClock.adjust(1000)
      }
      appendFileSync(file, "garbage line\n99999,5,tail,200,true,1") // last line without newline
      written++
      const report = yield* handle.finish
      checkWindows(mem.windows)
      assert.strictEqual(total(mem.windows), written)
      assert.strictEqual(report.summary.count, written)
      assert.deepStrictEqual(report.badLines, { count: 1, first: [{ line: 82, text: "garbage line", reason: "too few fields for the columns" }] })
      assert.isUndefined(report.error)
      rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("a result file that never appears fails ingestion with a clear error after the bound", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const mem = makeMemoryTransport()
      const handle = yield* startIngestion({
        testId: "t6",
        nodeId: "n1",
        source: { file: join(dir, "never.jtl"), format: "jmeter" },
        spillDir: dir,
        appearTimeout: "3 seconds"
      }).pipe(Effect.provide(ResultTransport.layerMemory(mem)))
      const failure = yield* Effect.forkChild(handle.failure)
      yield* TestClock.adjust(2000)
      assert.isUndefined(failure.pollUnsafe())
      yield* TestClock.adjust(1500)
      const exit = yield* Fiber.await(failure)
      assert.isTrue(Exit.isFailure(exit))
      const report = yield* handle.finish
      assert.strictEqual(report.error?.code, "results_missing")
      assert.include(report.error?.message, "never.jtl")
      assert.include(report.error?.message, "did not appear within 3 s")
      assert.isTrue(mem.windows.at(-1)!.final)
      assert.isFalse(existsSync(join(dir, "never.jtl")))
      rmSync(dir, { recursive: true, force: true })
    }))
})
