// The per-test ingestion pipeline the runner starts in the test's Scope: samples come from a
// result file the tool writes (followed by a Tailer and parsed by the format's parser) or are
// pushed by the built-in engine through `sink`; they are aggregated into windows (Aggregator)
// closed by Effect's Clock `lateMs` after their end, turned into protocol windows with encoded
// HdrHistograms, and handed to the in-order Publisher. `finish` (after the tool exited) reads
// the rest of the file, closes the last window with `final: true`, waits a bounded time for
// every acknowledgement and returns the run's summary. A result file that does not appear
// within `appearTimeout` is a fatal error the runner sees through `failure`.
import { join } from "node:path"
import { Clock, Deferred, Duration, Effect, Fiber, Schema } from "effect"
import { count, parseErrors, samplesIngested } from "../health/NodeMetrics.ts"
import { encodeHistogram, type LabelWindow, type ResultWindow, type Summary } from "../protocol/results.ts"
import type { LabelAcc } from "../report/LabelAcc.ts"
import { Totals } from "../report/Totals.ts"
import { Aggregator, type ClosedWindow } from "./Aggregator.ts"
import { parserFor } from "./parsers/index.ts"
import type { BadLine, ResultFormat } from "./parsers/Parser.ts"
import { makePublisher } from "./Publisher.ts"
import { ResultTransport } from "./ResultTransport.ts"
import type { SampleSink } from "./Sample.ts"
import { Tailer } from "./Tailer.ts"
import { WorkFileRefused } from "./WorkFile.ts"

export class IngestError extends Schema.TaggedError<IngestError>()("IngestError", {
  /** `results_missing`: the result file never appeared; `results_unreadable`: reading it failed;
   * `results_invalid`: it is not a regular file inside the work directory (a symlink out, a FIFO). */
  code: Schema.Literals(["results_missing", "results_unreadable", "results_invalid"]),
  message: Schema.String
}) {}

export interface IngestOptions {
  readonly testId: string
  /** The start command's `labels`, echoed in every window as `testLabels`. */
  readonly testLabels?: Readonly<Record<string, string>> | undefined
  readonly nodeId: string
  /** Epoch ms of the test's `started`: window 0 starts here. Default: now, by Clock. */
  readonly startedAt?: number | undefined
  readonly windowMs?: number | undefined
  /** How long a window stays open after its end for samples written late (default 2000 ms for
   * a result file, 500 ms for pushed samples). */
  readonly lateMs?: number | undefined
  /** The tool's result file and format (from the tool adapter), or "push" (built-in engine).
   * `within`: the directory the file must be a regular file inside of (the test's work dir). */
  readonly source: { readonly file: string; readonly format: ResultFormat; readonly within?: string | undefined } | "push"
  /** How long the result file may take to appear (default 60 s). */
  readonly appearTimeout?: Duration.Input | undefined
  /** How often the file is read and windows are closed (default 200 ms). */
  readonly pollInterval?: Duration.Input | undefined
  /** Directory for the spill file (the test's work directory). */
  readonly spillDir: string
  /** Windows kept in memory while NATS is away, before spilling (default 300). */
  readonly memoryWindows?: number | undefined
  /** How long `finish` waits for acknowledgements (default 30 s). */
  readonly ackTimeout?: Duration.Input | undefined
  readonly retryDelay?: Duration.Input | undefined
  readonly maxRetryDelay?: Duration.Input | undefined
  readonly maxLabels?: number | undefined
}

export interface IngestReport {
  readonly summary: Summary
  /** Windows produced (seq 0 .. windows-1). */
  readonly windows: number
  /** Windows not acknowledged when `finish` gave up waiting. */
  readonly unacked: number
  readonly badLines: { readonly count: number; readonly first: ReadonlyArray<BadLine> }
  /** Set when the result file never appeared or could not be read. */
  readonly error?: IngestError | undefined
}

export interface IngestHandle {
  /** Push mode: where the built-in engine sends samples (synchronous, hot path). */
  readonly sink: SampleSink
  /** Fails with the first fatal ingestion error; never succeeds. Race it against the tool. */
  readonly failure: Effect.Effect<never, IngestError>
  /** After the tool exited: read the rest, close the final window, wait for acks (bounded). */
  readonly finish: Effect.Effect<IngestReport>
}

const labelWindow = (acc: LabelAcc): LabelWindow => {
  const h = acc.rec.toHistogram()
  return { ...acc.stats(h), hdr: encodeHistogram(h) }
}

export const toResultWindow = (
  testId: string,
  nodeId: string,
  w: ClosedWindow,
  final: boolean,
  testLabels?: Readonly<Record<string, string>>
): ResultWindow => ({
  testId,
  nodeId,
  seq: w.seq,
  start: w.start,
  end: w.end,
  labels: w.labels.map(labelWindow),
  final,
  ...(testLabels !== undefined && Object.keys(testLabels).length > 0 ? { testLabels } : {})
})

/** Starts ingestion for one test in the current Scope. */
export const startIngestion = Effect.fnUntraced(function*(opts: IngestOptions) {
  const transport = yield* ResultTransport
  const windowMs = opts.windowMs ?? 1000
  // A tool's result file is buffered (JMeter flushes every second or so): its windows wait 2 s.
  // The built-in engine pushes each sample as its response ends, so 500 ms keeps a controller's
  // live view within about a second of the test; a slower response goes to the oldest open
  // window (totals stay exact, the series shifts by the least possible).
  const lateMs = opts.lateMs ?? (opts.source === "push" ? 500 : 2000)
  const startedAt = opts.startedAt ?? (yield* Clock.currentTimeMillis)
  const appearMs = Duration.toMillis(Duration.fromInputUnsafe(opts.appearTimeout ?? "60 seconds"))
  const pollInterval = opts.pollInterval ?? "200 millis"
  const publisher = yield* makePublisher({
    transport,
    spillFile: join(opts.spillDir, `grid-results-spill-${opts.nodeId}.jsonl`),
    memoryWindows: opts.memoryWindows,
    retryDelay: opts.retryDelay,
    maxRetryDelay: opts.maxRetryDelay
  })
  const agg = new Aggregator({ windowMs, startedAt, maxLabels: opts.maxLabels })
  const totals = new Totals()
  const failure = yield* Deferred.make<never, IngestError>()
  const source = opts.source
  const parser = source === "push" ? undefined : parserFor(source.format, agg.add)
  const tailer = source === "push" || parser === undefined ? undefined : new Tailer(source.file, parser, source.within)
  let error: IngestError | undefined = undefined
  let produced = 0
  /** Samples of closed windows not yet added to the node's samples counter. */
  let uncounted = 0
  const countSamples = Effect.suspend(() => {
    const n = uncounted
    uncounted = 0
    return n > 0 ? count(samplesIngested, n) : Effect.void
  })

  const fail = (e: IngestError) =>
    Effect.suspend(() => {
      error ??= e
      return Deferred.fail(failure, e)
    }).pipe(Effect.as(0))

  /** Closed windows become protocol windows (encoded now: the recorders go back to the pool). */
  const collect = (out: Array<ResultWindow>) => (w: ClosedWindow) => {
    totals.addWindow(w)
    produced++
    uncounted += w.labels[0]?.count ?? 0
    out.push(toResultWindow(opts.testId, opts.nodeId, w, false, opts.testLabels))
  }

  /** Reads what the tool wrote so far (up to `maxBytes`); false once the file is known missing. */
  const readFile = (now: number, maxBytes?: number) =>
    Effect.suspend(() => {
      if (tailer === undefined || error !== undefined) return Effect.succeed(0)
      let n: number
      try {
        n = tailer.poll(maxBytes)
      } catch (e) {
        return fail(
          e instanceof WorkFileRefused
            ? new IngestError({ code: "results_invalid", message: `the result file is refused: ${e.message}` })
            : new IngestError({ code: "results_unreadable", message: `cannot read ${tailer.path}: ${String(e)}` })
        )
      }
      if (n < 0 && now - startedAt >= appearMs) {
        return fail(
          new IngestError({
            code: "results_missing",
            message: `the result file ${tailer.path} did not appear within ${Math.round(appearMs / 1000)} s`
          })
        )
      }
      return Effect.succeed(n)
    })

  const tick = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    yield* readFile(now).pipe(Effect.ignore)
    const out: Array<ResultWindow> = []
    agg.closeUntil(now - lateMs, collect(out))
    yield* countSamples
    for (const w of out) yield* publisher.offer(w)
  })

  const ticker = yield* Effect.forkScoped(
    Effect.forever(Effect.andThen(Effect.sleep(pollInterval), tick))
  )

  const finish = Effect.gen(function*() {
    yield* Fiber.interrupt(ticker)
    const now = yield* Clock.currentTimeMillis
    if (tailer !== undefined) {
      for (;;) {
        const n = yield* readFile(now + appearMs, 256 << 20).pipe(Effect.orElseSucceed(() => 0))
        if (n <= 0) break
        yield* Effect.yieldNow
      }
      if (!tailer.opened && error === undefined) {
        error = new IngestError({
          code: "results_missing",
          message: `the tool ended without writing its result file ${tailer.path}`
        })
        yield* Deferred.fail(failure, error)
      }
      parser?.end()
      tailer.close()
    }
    const out: Array<ResultWindow> = []
    agg.closeThrough(agg.seqAt(now), collect(out))
    if (out.length > 0) out[out.length - 1] = { ...out[out.length - 1]!, final: true }
    yield* countSamples
    const bad = parser?.bad.toJSON().count ?? 0
    if (bad > 0) yield* count(parseErrors, bad)
    for (const w of out) yield* publisher.offer(w)
    const unacked = yield* publisher.drain(opts.ackTimeout ?? "30 seconds")
    const report: IngestReport = {
      summary: totals.wireSummary(Math.max(0, now - startedAt)),
      windows: produced,
      unacked,
      badLines: parser?.bad.toJSON() ?? { count: 0, first: [] },
      error
    }
    return report
  })

  const handle: IngestHandle = {
    sink: agg.add,
    failure: Deferred.await(failure),
    finish
  }
  return handle
})
