// What `grid run` hands the runner when it drives a test on its own machine: a tap on the
// samples (its live progress and summary) and the engine's live status (users, dropped).
// When present, tools that can run in-process (the built-in engine) do so, feeding the
// ingestion pipeline directly instead of through a child process and a result file. A daemon
// never sets it: its tools stay child processes or containers it can kill.
import { Context } from "effect"
import type { EngineStatus } from "../engine/LoadModels.ts"
import type { SampleSink } from "../ingest/Sample.ts"

export interface LocalRunHooks {
  /** Sees every sample the in-process tool produces, besides the ingestion pipeline. */
  readonly tap: SampleSink
  /** The engine's live counters, updated while it runs. */
  readonly status: EngineStatus
}

export const LocalRun = Context.Reference<LocalRunHooks | undefined>("grid/runner/LocalRun", {
  defaultValue: () => undefined
})
