// Weighted samples for tools that report only aggregates (Locust's stats history, Artillery's
// report): a row's request count is spread over its latency percentiles and its status counts
// as a few samples carrying `count`, so counts, errors, statuses and bytes stay exact and the
// histogram answers every percentile the tool reported with the tool's own value. The mean is
// approximate (each slice is recorded at its upper percentile), and which statuses take which
// latencies is unknown: successes are given the lower latencies, failures the upper ones.
import type { SampleSink } from "../Sample.ts"

export interface Outcome {
  readonly status: string
  readonly success: boolean
  readonly count: number
  readonly error?: string | undefined
}

export interface AggregateRow {
  readonly timestamp: number
  readonly label: string
  /** Percentile (0..100) -> latency ms, as the tool reported them (any order). */
  readonly percentiles: ReadonlyArray<readonly [number, number]>
  readonly minMs?: number | undefined
  readonly maxMs?: number | undefined
  /** Outcomes with a latency (their counts add up to the requests the percentiles describe). */
  readonly outcomes: ReadonlyArray<Outcome>
  /** Outcomes without a latency (connection errors, timeouts): counted, not put in the histogram. */
  readonly noLatency?: ReadonlyArray<Outcome> | undefined
  readonly bytesIn?: number | undefined
  readonly bytesOut?: number | undefined
}

/** Latency slices [value, weight] for n requests; the cumulative weights add up to n. */
const slices = (row: AggregateRow, n: number): Array<[number, number]> => {
  const points: Array<[number, number]> = []
  if (row.minMs !== undefined && Number.isFinite(row.minMs)) points.push([n > 0 ? 100 / n : 0, row.minMs])
  for (const [p, v] of [...row.percentiles].sort((a, b) => a[0] - b[0])) if (Number.isFinite(v)) points.push([p, v])
  if (row.maxMs !== undefined && Number.isFinite(row.maxMs)) points.push([100, row.maxMs])
  if (points.length === 0) return [[NaN, n]]
  points.sort((a, b) => a[0] - b[0])
  if (points[points.length - 1]![0] < 100) points.push([100, points[points.length - 1]![1]])
  const out: Array<[number, number]> = []
  let prev = 0
  let floor = -Infinity
  for (const [p, v] of points) {
    // ceil, as HdrHistogram counts ranks for a percentile; the max always keeps one request.
    const c = Math.min(p < 100 ? n - 1 : n, Math.max(prev, Math.ceil((n * p) / 100 - 1e-9)))
    const value = Math.max(v, floor)
    floor = value
    if (c > prev) out.push([value, c - prev])
    prev = c
  }
  if (prev < n) out.push([floor, n - prev])
  return out
}

export const emitAggregate = (sink: SampleSink, row: AggregateRow): void => {
  let bytesIn = row.bytesIn ?? 0
  let bytesOut = row.bytesOut ?? 0
  const n = row.outcomes.reduce((a, o) => a + o.count, 0)
  const lat = slices(row, n)
  const outs = [...row.outcomes].filter((o) => o.count > 0).sort((a, b) => Number(b.success) - Number(a.success))
  let li = 0
  let oi = 0
  let lLeft = lat[0]?.[1] ?? 0
  let oLeft = outs[0]?.count ?? 0
  while (li < lat.length && oi < outs.length) {
    const take = Math.min(lLeft, oLeft)
    const o = outs[oi]!
    if (take > 0) {
      sink({
        timestamp: row.timestamp,
        label: row.label,
        latencyMs: lat[li]![0],
        success: o.success,
        status: o.status,
        bytesIn,
        bytesOut,
        error: o.error,
        count: take
      })
      bytesIn = 0
      bytesOut = 0
    }
    lLeft -= take
    oLeft -= take
    if (lLeft === 0 && ++li < lat.length) lLeft = lat[li]![1]
    if (oLeft === 0 && ++oi < outs.length) oLeft = outs[oi]!.count
  }
  for (const o of row.noLatency ?? []) {
    if (o.count <= 0) continue
    sink({ timestamp: row.timestamp, label: row.label, latencyMs: NaN, success: o.success, status: o.status, bytesIn, bytesOut, error: o.error, count: o.count })
    bytesIn = 0
    bytesOut = 0
  }
  if (bytesIn > 0 || bytesOut > 0) {
    sink({ timestamp: row.timestamp, label: row.label, latencyMs: NaN, success: true, status: "", bytesIn, bytesOut, error: undefined, count: 0 })
  }
}
