// One engine worker: `grid engine <scenario> --worker i/N`, a process its parent (WorkerPool.ts)
// started, running worker i's share of the load (LoadSplit.ts) on its own event loop and
// connections. It reports `ready` once its targets answered, starts the load on `go` (so every
// worker's profile starts at the same instant), and sends its samples either into the JTL its
// parent created (`--results file`: appended in whole-line batches, the file stays one JTL)
// or as per-window rows on stdout (`--results -`: WorkerRows.ts). `stop` on stdin, or the end
// of stdin (the parent is gone), ends the run like SIGTERM: in-flight requests aborted, every
// sample flushed, `end` written.
import { Clock, Deferred, Duration, Effect } from "effect"
import type { SampleSink } from "../ingest/Sample.ts"
import { newStatus, runEngine } from "./Engine.ts"
import { JtlWriter } from "./JtlWriter.ts"
import type { WorkerShare } from "./LoadSplit.ts"
import type { Scenario } from "./Scenario.ts"
import type { AllowList } from "./TargetAllowList.ts"
import { WORKER_WINDOW_MS, WorkerWindows } from "./WorkerRows.ts"
import { type WorkerMessage, workerLine } from "./WorkerWire.ts"

/** How long a worker's window waits for responses still in flight before it is sent. */
const WORKER_LATE_MS = 200

/** The parent's lines on stdin: `go` once, `stop` (or the end of stdin) at most once. */
const controlFromStdin = () => {
  const go = Deferred.makeUnsafe<void>()
  const stop = Deferred.makeUnsafe<void>()
  let buffered = ""
  process.stdin.setEncoding("utf8")
  process.stdin.on("data", (chunk: string) => {
    buffered += chunk
    let nl: number
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim()
      buffered = buffered.slice(nl + 1)
      if (line === "go") Deferred.doneUnsafe(go, Effect.void)
      else if (line === "stop") Deferred.doneUnsafe(stop, Effect.void)
    }
  })
  process.stdin.on("end", () => Deferred.doneUnsafe(stop, Effect.void))
  process.stdin.on("error", () => Deferred.doneUnsafe(stop, Effect.void))
  return { go: Deferred.await(go), stop: Deferred.await(stop) }
}

export interface WorkerOptions {
  readonly scenario: Scenario
  readonly share: WorkerShare
  /** The JTL its parent created (header written), or "-": rows on stdout. */
  readonly results: string
  readonly allow: AllowList | undefined
}

/** Runs the worker to its end; fails like `grid engine` (EngineError) or with a file problem. */
export const runWorker = Effect.fn("engine.worker")(function*(options: WorkerOptions) {
  const send = (m: WorkerMessage) => process.stdout.write(workerLine(m))
  const control = controlFromStdin()
  const status = newStatus()
  const windows = options.results === "-" ? new WorkerWindows() : undefined
  const jtl = windows === undefined
    ? yield* Effect.try({
      try: () => new JtlWriter(options.results, () => status.users, { append: true }),
      catch: (e) => `cannot write ${options.results}: ${(e as Error).message}`
    })
    : undefined
  let samples = 0
  const sink: SampleSink = windows !== undefined
    ? (s) => {
      samples++
      windows.sink(s)
    }
    : jtl!.sink
  const count = () => (jtl !== undefined ? jtl.written : samples)
  // CPU from the common start on, like grid run's own figure: start-up is not load.
  let cpuAtGo: NodeJS.CpuUsage | undefined = undefined
  const cpuMs = () => {
    if (cpuAtGo === undefined) return 0
    const c = process.cpuUsage(cpuAtGo)
    return Math.round((c.user + c.system) / 1000)
  }
  const statusLine = (users: number): WorkerMessage => ({
    t: "status",
    users,
    dropped: status.dropped,
    arrivals: status.arrivals,
    samples: count(),
    cpuMs: cpuMs()
  })
  const report = Effect.gen(function*() {
    let ticks = 0
    while (true) {
      yield* Effect.sleep(Duration.millis(WORKER_WINDOW_MS / 2))
      const now = yield* Clock.currentTimeMillis
      if (windows !== undefined) {
        const rows = windows.take(now - WORKER_LATE_MS)
        if (rows.length > 0) send({ t: "rows", rows })
      }
      if (++ticks % 5 === 0) {
        jtl?.flush()
        send(statusLine(status.users))
      }
    }
  })
  const finish = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    jtl?.close()
    if (windows !== undefined) {
      const rows = windows.rest(now)
      if (rows.length > 0) send({ t: "rows", rows })
    }
    send(statusLine(0))
    send({ t: "end", samples: count() })
    // The parent's pipe would keep this process alive after its run.
    process.stdin.destroy()
  })
  const beforeLoad = Effect.sync(() => send({ t: "ready" })).pipe(
    Effect.andThen(control.go),
    Effect.andThen(Effect.sync(() => (cpuAtGo = process.cpuUsage())))
  )
  yield* runEngine(options.scenario, sink, status, options.allow, { share: options.share, beforeLoad }).pipe(
    Effect.asVoid,
    Effect.raceFirst(Effect.andThen(report, Effect.never)),
    // The parent's stop, or its end: the run ends now, what was measured is still sent.
    Effect.raceFirst(control.stop),
    Effect.ensuring(finish)
  )
})
