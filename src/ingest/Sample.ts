// The one sample model every result source produces (tool result parsers, the built-in
// engine). Plain mutable-free objects, no Effect: parsers emit millions per second.

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
}

/** Where producers push samples. Synchronous on purpose: it sits on the hot path. */
export type SampleSink = (sample: Sample) => void
