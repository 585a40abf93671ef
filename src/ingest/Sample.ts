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
}

/** Where producers push samples. Synchronous on purpose: it sits on the hot path. */
export type SampleSink = (sample: Sample) => void
