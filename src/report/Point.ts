// A window reduced to a point of the time series (live lines, HTML charts, the document's
// `windows`), from the window's accumulators: the same reduction for `grid run`'s windows, a
// report's windows and the controller's merged seconds.
import { LabelAcc } from "./LabelAcc.ts"
import { countsInTotal } from "./Phase.ts"
import type { WindowPoint } from "./Summary.ts"

/** p95 of one accumulator, clamped to its exact min and max. */
const p95Of = (acc: LabelAcc): number =>
  acc.rec.total > 0 ? Math.min(acc.max, Math.max(acc.min, acc.rec.getValueAtPercentile(95) / 1000)) : 0

/**
 * The point of window `seq`: `labels` are its accumulators, label `*` among them or not (a
 * window closed without `*` gets it built here from the others).
 */
export const pointOf = (seq: number, start: number, durationMs: number, labels: Iterable<LabelAcc>): WindowPoint => {
  let all: LabelAcc | undefined
  const rows: Array<LabelAcc> = []
  for (const acc of labels) {
    if (acc.label === "*") all = acc
    else rows.push(acc)
  }
  if (all === undefined && rows.length > 0) {
    all = new LabelAcc("*")
    for (const acc of rows) if (countsInTotal(acc.label)) all.merge(acc)
  }
  const per: Record<string, { count: number; errors: number; p95: number }> = {}
  for (const acc of rows) per[acc.label] = { count: acc.count, errors: acc.errors, p95: p95Of(acc) }
  const lat = all?.latency()
  return {
    seq,
    start,
    durationMs,
    count: all?.count ?? 0,
    errors: all?.errors ?? 0,
    latencyMs: lat === undefined ? { p50: 0, p90: 0, p95: 0, p99: 0, max: 0 } : { p50: lat.p50, p90: lat.p90, p95: lat.p95, p99: lat.p99, max: lat.max },
    labels: per
  }
}
