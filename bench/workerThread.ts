// The worker_threads alternative to engine worker processes, for bench/workers.bench.ts only:
// the same engine, share split, window aggregation and row merging as `grid run --workers N`,
// but each worker a thread of one process, rows posted to the main thread instead of written to
// a pipe. `node bench/workerThread.ts <scenario.json> <threads>` prints {count, cpuMs, ms}: the
// whole process's CPU from the common start (every thread's), like grid run's generator CPU.
import { Effect, Layer } from "effect"
import { NodeServices } from "@effect/platform-node"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { Aggregator } from "../src/ingest/Aggregator.ts"
import { newStatus, runEngine } from "../src/engine/Engine.ts"
import { loadScenario } from "../src/engine/ScenarioLoader.ts"
import { RowMerger, WorkerWindows } from "../src/engine/WorkerRows.ts"
import type { WorkerRow } from "../src/engine/WorkerWire.ts"

interface Data {
  readonly file: string
  readonly index: number
  readonly count: number
  readonly go: Int32Array
}

if (isMainThread) {
  const [file, n] = process.argv.slice(2)
  const count = Number(n ?? 2)
  const go = new Int32Array(new SharedArrayBuffer(4))
  const agg = new Aggregator({ windowMs: 1000, startedAt: Date.now() })
  const merger = new RowMerger(agg.add)
  let ready = 0
  let ended = 0
  let total = 0
  let cpu0: NodeJS.CpuUsage | undefined
  let t0 = 0
  for (let index = 0; index < count; index++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { file, index, count, go } satisfies Data })
    w.on("message", (m: { t: "ready" } | { t: "rows"; rows: Array<WorkerRow> } | { t: "end" }) => {
      if (m.t === "rows") for (const r of m.rows) merger.add(r)
      else if (m.t === "ready" && ++ready === count) {
        cpu0 = process.cpuUsage()
        t0 = performance.now()
        Atomics.store(go, 0, 1)
        Atomics.notify(go, 0)
      } else if (m.t === "end" && ++ended === count) {
        const c = process.cpuUsage(cpu0)
        agg.closeThrough(agg.seqAt(Date.now()), (w) => (total += w.labels[0]?.count ?? 0))
        console.log(JSON.stringify({ count: total, cpuMs: (c.user + c.system) / 1000, ms: performance.now() - t0 }))
        process.exit(0)
      }
    })
  }
} else {
  const d = workerData as Data
  const windows = new WorkerWindows()
  const post = (now: number) => {
    const rows = windows.take(now)
    if (rows.length > 0) parentPort!.postMessage({ t: "rows", rows })
  }
  const timer = setInterval(() => post(Date.now() - 200), 100)
  const beforeLoad = Effect.sync(() => parentPort!.postMessage({ t: "ready" })).pipe(
    // Every thread starts together, as processes do on `go`.
    Effect.andThen(Effect.promise(() => {
      // Atomics.waitAsync is ES2024, newer than the project's lib setting.
      const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<unknown> | string } }).waitAsync(d.go, 0, 0)
      return typeof r.value === "string" ? Promise.resolve(r.value) : r.value
    }))
  )
  await Effect.runPromise(
    loadScenario(d.file).pipe(
      Effect.flatMap((s) => runEngine(s, windows.sink, newStatus(), undefined, { share: { index: d.index, count: d.count }, beforeLoad })),
      Effect.provide(Layer.mergeAll(NodeServices.layer))
    )
  )
  clearInterval(timer)
  const rows = windows.rest(Date.now())
  if (rows.length > 0) parentPort!.postMessage({ t: "rows", rows })
  parentPort!.postMessage({ t: "end" })
}
