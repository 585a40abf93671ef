// `grid run`'s view of the ingestion aggregation (src/ingest/Aggregator.ts, the same code
// the daemon's ingestion runs): the engine's samples go into its per-second windows; each
// closed window is folded into the run totals and reduced to a point of the time series
// (progress line, HTML report); at the end the totals become the RunSummary.
import type { LabelAcc } from "../ingest/Aggregator.ts"
import { Aggregator, Totals } from "../ingest/Aggregator.ts"
import type { SampleSink } from "../ingest/Sample.ts"
import { latencyStats } from "../protocol/results.ts"
import { inRequestOrder, type LabelSummary, type RunSummary } from "./Summary.ts"

/** One closed window, reduced for display. */
export interface WindowPoint {
  readonly seq: number
  readonly start: number
  /** Time the window covers, ms: 1000 except for a run's last, partial window. */
  durationMs: number
  readonly count: number
  readonly errors: number
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p95: number; readonly p99: number; readonly max: number }
  /** Per request label: count and p95 of the window. */
  readonly labels: Readonly<Record<string, { readonly count: number; readonly errors: number; readonly p95: number }>>
}

const labelSummary = (acc: LabelAcc, durationMs: number): LabelSummary => ({
  ...acc.stats(),
  rps: durationMs > 0 ? acc.count / (durationMs / 1000) : 0
})

const emptyLabel = (label: string): LabelSummary => ({
  label,
  count: 0,
  errors: 0,
  bytesIn: 0,
  bytesOut: 0,
  rps: 0,
  latencyMs: { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 },
  status: {}
})

export class RunAggregation {
  readonly startedAt: number
  readonly points: Array<WindowPoint> = []
  private readonly agg: Aggregator
  private readonly totals = new Totals()
  private readonly lateMs: number
  private readonly onClose = (w: Parameters<Parameters<Aggregator["closeUntil"]>[1]>[0]) => {
    this.totals.addWindow(w)
    const all = w.labels[0]
    const labels: Record<string, { count: number; errors: number; p95: number }> = {}
    let latency = { p50: 0, p90: 0, p95: 0, p99: 0, max: 0 }
    if (all !== undefined) {
      const h = all.rec.toHistogram()
      const s = latencyStats(h, { min: all.min, mean: all.mean, max: all.max })
      latency = { p50: s.p50, p90: s.p90, p95: s.p95, p99: s.p99, max: all.rec.total > 0 ? all.max : 0 }
      for (const acc of w.labels.slice(1)) {
        const p95 = acc.rec.total > 0 ? Math.min(acc.max, Math.max(acc.min, acc.rec.toHistogram().getValueAtPercentile(95) / 1000)) : 0
        labels[acc.label] = { count: acc.count, errors: acc.errors, p95 }
      }
    }
    this.points.push({ seq: w.seq, start: w.start, durationMs: w.end - w.start, count: all?.count ?? 0, errors: all?.errors ?? 0, latencyMs: latency, labels })
  }

  /** `lateMs`: how long a window stays open after its end for slow responses. */
  constructor(startedAt: number, lateMs = 250) {
    this.startedAt = startedAt
    this.lateMs = lateMs
    this.agg = new Aggregator({ windowMs: 1000, startedAt })
  }

  /** The engine's sink. */
  get sink(): SampleSink {
    return this.agg.add
  }

  /** Closes the windows that ended at least `lateMs` before `now`; returns how many closed. */
  tick(now: number): number {
    const before = this.points.length
    this.agg.closeUntil(now - this.lateMs, this.onClose)
    return this.points.length - before
  }

  /** Running totals so far (closed windows only). */
  get closedCount(): { readonly count: number; readonly errors: number } {
    const all = this.totals.all
    return { count: all?.count ?? 0, errors: all?.errors ?? 0 }
  }

  /** Closes every remaining window and summarises the run; rows in `order` (request names). */
  finish(endedAt: number, dropped: number, interrupted: boolean, order: ReadonlyArray<string> = []): RunSummary {
    this.agg.closeThrough(this.agg.seqAt(endedAt - 1), this.onClose)
    for (const p of this.points) if (p.start + p.durationMs > endedAt) p.durationMs = Math.max(1, endedAt - p.start)
    const durationMs = Math.max(1, endedAt - this.startedAt)
    const all = this.totals.all
    const labels = inRequestOrder([...this.totals.labels.values()].filter((l) => l.label !== "*"), order)
    return {
      startedAt: this.startedAt,
      durationMs,
      total: all === undefined ? emptyLabel("*") : labelSummary(all, durationMs),
      labels: labels.map((l) => labelSummary(l, durationMs)),
      dropped,
      interrupted,
      thresholds: []
    }
  }
}
