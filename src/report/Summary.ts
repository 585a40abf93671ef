// The one summary model of a load test, whichever command produced it (`grid run`, `grid launch`,
// `grid results`, `grid report`): a row per label plus the `total` row, the thresholds, and the
// per-window points of the time series. Defined as Schemas because it is also the body of the
// JSON document every command writes (Document.ts); the latency figures are the protocol's
// `LatencyStats`, the same numbers a result window carries.
import { Schema } from "effect"
import { LatencyStats } from "../protocol/results.ts"

export { LatencyStats }

/** One label over the run (or label `*`, all samples, as `total`). */
export const LabelSummary = Schema.Struct({
  label: Schema.String,
  count: Schema.Finite,
  errors: Schema.Finite,
  bytesIn: Schema.Finite,
  bytesOut: Schema.Finite,
  /** Requests per second over the run's duration. */
  rps: Schema.Finite,
  latencyMs: LatencyStats,
  /** Count per status code (HTTP code, or the tool's own result code). */
  status: Schema.Record(Schema.String, Schema.Finite)
})
export type LabelSummary = typeof LabelSummary.Type

export const ThresholdResult = Schema.Struct({
  threshold: Schema.String,
  ok: Schema.Boolean,
  /** The measured value, in the threshold's unit (ms, %, count, req/s); NaN (null in JSON)
   * when nothing was measured. */
  actual: Schema.Number
})
export type ThresholdResult = typeof ThresholdResult.Type

/** One window (second) of the run, reduced for the live view and the HTML charts. */
export const WindowPoint = Schema.Struct({
  seq: Schema.Finite,
  /** Epoch ms of the window's start. */
  start: Schema.Finite,
  /** Time the window covers, ms: the window length except for a run's last, partial window. */
  durationMs: Schema.Finite,
  count: Schema.Finite,
  errors: Schema.Finite,
  latencyMs: Schema.Struct({ p50: Schema.Finite, p90: Schema.Finite, p95: Schema.Finite, p99: Schema.Finite, max: Schema.Finite }),
  /** Per label: count, errors and p95 within the window. */
  labels: Schema.Record(Schema.String, Schema.Struct({ count: Schema.Finite, errors: Schema.Finite, p95: Schema.Finite }))
})
export type WindowPoint = typeof WindowPoint.Type

export const RunSummary = Schema.Struct({
  /** Epoch ms of the first window's (or sample's) start; 0 without samples. */
  startedAt: Schema.Finite,
  durationMs: Schema.Finite,
  /** Every sample (label `*`). */
  total: LabelSummary,
  /** The other labels, in the scenario's request order (or by name). */
  labels: Schema.Array(LabelSummary),
  /** Open model: arrivals that found no free connection (also counted as errors). */
  dropped: Schema.Finite,
  /** True when the run was stopped early (Ctrl-C, SIGTERM, a node stopped). */
  interrupted: Schema.Boolean,
  thresholds: Schema.Array(ThresholdResult),
  /** `grid run`: CPU the generating process used (user + system), ms. A generator near 100%
   * of a core is itself the bottleneck and its latencies are suspect. */
  generatorCpuMs: Schema.optional(Schema.Finite)
})
export type RunSummary = typeof RunSummary.Type

export const emptyLatency: LatencyStats = { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 }

export const emptyLabel = (label: string): LabelSummary => ({
  label,
  count: 0,
  errors: 0,
  bytesIn: 0,
  bytesOut: 0,
  rps: 0,
  latencyMs: emptyLatency,
  status: {}
})

/** Labels in the scenario's request order (the order a reader wrote them in); labels the
 * scenario does not name (or all, without a scenario) follow by name. */
export const inRequestOrder = <A extends { readonly label: string }>(labels: Iterable<A>, order: ReadonlyArray<string> = []): Array<A> => {
  const rank = new Map(order.map((name, i) => [name, i]))
  const r = (a: A) => rank.get(a.label) ?? Number.MAX_SAFE_INTEGER
  return [...labels].sort((a, b) => r(a) - r(b) || a.label.localeCompare(b.label))
}
