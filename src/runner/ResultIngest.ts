// The runner's port to results ingestion: for a tool that writes a result file, follow it
// while the tool runs and produce the run's summary at the end. The daemon provides the
// JetStream-publishing implementation (src/ingest/), `none` stands in where no results flow.
import { Context, Effect, Layer, type Scope } from "effect"
import type { ErrorInfo, RunSummary } from "../protocol/events.ts"
import type { ResultFormat } from "../tools/Tool.ts"

export interface IngestOptions {
  readonly testId: string
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly workDir: string
  /** Host path of the result file. */
  readonly path: string
  readonly format: ResultFormat
}

export interface IngestRun {
  /** Completes only if ingestion cannot go on (e.g. the result file never appeared). */
  readonly failure: Effect.Effect<ErrorInfo>
  /** After the tool ended: read the rest, publish the final window, wait for acks (bounded). */
  readonly finish: Effect.Effect<RunSummary | null>
}

export class ResultIngest extends Context.Service<ResultIngest, {
  readonly start: (options: IngestOptions) => Effect.Effect<IngestRun, never, Scope.Scope>
}>()("grid/runner/ResultIngest") {
  static readonly none = Layer.succeed(
    ResultIngest,
    ResultIngest.of({ start: () => Effect.succeed({ failure: Effect.never, finish: Effect.succeed(null) }) })
  )
}
