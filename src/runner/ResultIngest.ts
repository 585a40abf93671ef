// The runner's port to results ingestion: for a tool that writes a result file, follow it
// while the tool runs and produce the run's summary at the end. `layer` runs the ingest
// pipeline (src/ingest/Ingestion.ts) over whatever ResultTransport is provided (JetStream in
// the daemon, memory in `grid run` and tests); `none` stands in where no results flow.
import { Context, type Duration, Effect, Layer, type Scope } from "effect"
import { ResultTransport } from "../ingest/ResultTransport.ts"
import { startIngestion } from "../ingest/Ingestion.ts"
import type { ErrorInfo, RunSummary } from "../protocol/events.ts"
import type { SampleSink } from "../ingest/Sample.ts"
import type { ResultFormat } from "../tools/Tool.ts"

export interface IngestOptions {
  readonly testId: string
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly workDir: string
  /** The result file (host path) and its format, or "push": an in-process tool hands its
   * samples to `IngestRun.sink`. */
  readonly source: { readonly path: string; readonly format: ResultFormat; readonly lateMs?: number | undefined } | "push"
}

export interface IngestRun {
  /** Push mode: where an in-process tool sends its samples (synchronous, hot path). */
  readonly sink: SampleSink
  /** Completes only if ingestion cannot go on (e.g. the result file never appeared). */
  readonly failure: Effect.Effect<ErrorInfo>
  /** After the tool ended: read the rest, publish the final window, wait for acks (bounded). */
  readonly finish: Effect.Effect<RunSummary | null>
  /** After `finish`: set when the result file was refused (`results_invalid`: not a regular
   * file inside the work directory); the test then fails with it and reports no summary. */
  readonly refused: Effect.Effect<ErrorInfo | undefined>
}

export class ResultIngest extends Context.Service<ResultIngest, {
  readonly start: (options: IngestOptions) => Effect.Effect<IngestRun, never, Scope.Scope>
}>()("grid/runner/ResultIngest") {
  /** Ingestion publishing through the provided ResultTransport. */
  static readonly layer = (options: {
    readonly nodeId: string
    readonly windowMs: number
    readonly appearTimeout: Duration.Duration
  }) =>
    Layer.effect(
      ResultIngest,
      Effect.map(ResultTransport, (transport) =>
        ResultIngest.of({
          start: (o) => {
            let refused: ErrorInfo | undefined
            return startIngestion({
              testId: o.testId,
              testLabels: o.labels,
              nodeId: options.nodeId,
              windowMs: options.windowMs,
              // The file must stay a regular file inside the test's work directory (WorkFile.ts).
              source: o.source === "push" ? "push" : { file: o.source.path, format: o.source.format, within: o.workDir },
              lateMs: o.source === "push" ? undefined : o.source.lateMs,
              spillDir: o.workDir,
              appearTimeout: options.appearTimeout
            }).pipe(
              Effect.provideService(ResultTransport, transport),
              Effect.map((handle): IngestRun => ({
                sink: handle.sink,
                failure: Effect.flip(handle.failure).pipe(Effect.map((e) => ({ code: e.code, message: e.message }))),
                finish: Effect.map(handle.finish, (report): RunSummary => {
                  if (report.error?.code === "results_invalid") refused = { code: report.error.code, message: report.error.message }
                  return { ...report.summary, unackedWindows: report.unacked, badLines: report.badLines.count }
                }),
                refused: Effect.sync(() => refused)
              }))
            )
          }
        }))
    )

  static readonly none = Layer.succeed(
    ResultIngest,
    ResultIngest.of({
      start: () => Effect.succeed({ sink: () => {}, failure: Effect.never, finish: Effect.succeed(null), refused: Effect.succeed(undefined) })
    })
  )
}
