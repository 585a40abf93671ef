// The one sample model every result source produces (tool result parsers, the built-in
// engine). Plain mutable-free objects, no Effect: parsers emit millions per second.
import type { LabelAcc } from "../report/LabelAcc.ts"

/** One request/transaction as a tool reports it. */
export interface Sample {
  /** When the request started, epoch ms. */
  readonly timestamp: number
  /** Sampler / request name; the aggregator also adds every sample to label `*`. */
  readonly label: string
  /** Latency in milliseconds (fractional allowed). */
  readonly latencyMs: number
  readonly success: boolean
  /** HTTP status or tool response code as text ("200", "Non HTTP response code: ..."). */
  readonly status: string
  readonly bytesIn: number
  readonly bytesOut: number
  readonly error?: string | undefined
  /**
   * How many requests this sample stands for; absent means 1. Tools that only report aggregates
   * (Locust's stats history, Artillery's report) emit weighted samples; 0 carries bytes only
   * (k6 reports data_received per iteration, not per request). Label `*` adds to `*` alone.
   * A negative or NaN `latencyMs` means "no latency known" (counted, not put in the histogram).
   */
  readonly count?: number | undefined
  /**
   * Many requests already aggregated (one label of an engine worker's window, src/engine/
   * WorkerRows.ts): the aggregator merges it whole into the window of `timestamp` and reads
   * nothing else of the sample but `label`. Histograms merge bucket by bucket, so percentiles
   * stay exact. The accumulator is the producer's: it may be reused once the sink returns.
   */
  readonly merged?: LabelAcc | undefined
}

/** Where producers push samples. Synchronous on purpose: it sits on the hot path. */
export type SampleSink = (sample: Sample) => void
