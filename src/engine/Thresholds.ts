// Pass/fail thresholds: parsed from the scenario's strings ("p95 < 300ms", "errors < 1%",
// "rps > 100", "login: p99 <= 1s") at load time, so a malformed one rejects the scenario
// before any request; evaluated as a pure function over the end-of-run summary.
import type { LabelSummary, RunSummary, ThresholdResult } from "../report/Summary.ts"

export type Metric = "min" | "mean" | "p50" | "p75" | "p90" | "p95" | "p99" | "max" | "errors" | "checks" | "count" | "rps"
export type Op = "<" | "<=" | ">" | ">="

export interface Threshold {
  readonly source: string
  /** Label the threshold applies to; `*` (all samples) when none is given. */
  readonly label: string
  readonly metric: Metric
  readonly op: Op
  /** In ms for latency metrics, percent for `errors` given with `%`, else plain. */
  readonly value: number
  /** `errors` only: whether `value` is a percentage of the count or an absolute number. */
  readonly percent: boolean
}

const latencyMetrics = new Set(["min", "mean", "avg", "p50", "med", "p75", "p90", "p95", "p99", "max"])
// The label ends at a colon or a space before the metric, so a label may hold colons itself:
// a browser page metric ("home:lcp p75 < 2.5s") reads as label `home:lcp`.
const pattern = /^\s*(?:(.+?)(?:\s*:\s*|\s+))?([a-z0-9]+)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)\s*(ms|s|us|%)?\s*$/i

/** Parses one threshold; `Error` carries a message naming what is wrong. */
export const parseThreshold = (source: string): Threshold | string => {
  const m = pattern.exec(source)
  if (m === null) return `cannot parse "${source}" (expected e.g. "p95 < 300ms", "errors < 1%", "rps > 100")`
  const [, label, rawMetric, op, rawValue, unit] = m
  let metric = rawMetric!.toLowerCase()
  if (metric === "avg") metric = "mean"
  if (metric === "med") metric = "p50"
  const n = Number(rawValue)
  const u = unit?.toLowerCase()
  let value: number
  let percent = false
  if (latencyMetrics.has(metric)) {
    if (u === "%") return `"${source}": a latency takes ms, s or us, not %`
    value = u === "s" ? n * 1000 : u === "us" ? n / 1000 : n
  } else if (metric === "checks") {
    // The share of samples that passed every check (the status one included): 100% - errors%.
    if (u !== "%") return `"${source}": checks take % (e.g. "checks > 99%")`
    value = n
    percent = true
  } else if (metric === "errors") {
    if (u !== undefined && u !== "%") return `"${source}": errors take % or a plain count`
    value = n
    percent = u === "%"
  } else if (metric === "rps" || metric === "count") {
    if (u !== undefined) return `"${source}": ${metric} takes a plain number`
    value = n
  } else {
    return `"${source}": unknown metric "${rawMetric}" (min, mean, p50, p75, p90, p95, p99, max, errors, checks, count, rps)`
  }
  return { source, label: label?.trim() ?? "*", metric: metric as Metric, op: op as Op, value, percent }
}

const measure = (t: Threshold, s: LabelSummary): number => {
  switch (t.metric) {
    case "checks":
      return s.count === 0 ? 100 : ((s.count - s.errors) / s.count) * 100
    case "errors":
      return t.percent ? (s.count === 0 ? 0 : (s.errors / s.count) * 100) : s.errors
    case "count":
      return s.count
    case "rps":
      return s.rps
    case "p75":
      // Absent from summaries written before p75 existed: nothing measured.
      return s.latencyMs.p75 ?? Number.NaN
    default:
      return s.latencyMs[t.metric]
  }
}

const holds = (op: Op, actual: number, value: number): boolean =>
  op === "<" ? actual < value : op === "<=" ? actual <= value : op === ">" ? actual > value : actual >= value

/** Evaluates thresholds; one whose label has no samples fails (nothing was measured). */
export const evaluateThresholds = (
  thresholds: ReadonlyArray<Threshold>,
  summary: Pick<RunSummary, "total" | "labels">
): ReadonlyArray<ThresholdResult> =>
  thresholds.map((t) => {
    const s = t.label === "*" ? summary.total : summary.labels.find((l) => l.label === t.label)
    if (s === undefined || s.count === 0) return { threshold: t.source, ok: false, actual: Number.NaN }
    const actual = measure(t, s)
    return { threshold: t.source, ok: holds(t.op, actual, t.value), actual }
  })
