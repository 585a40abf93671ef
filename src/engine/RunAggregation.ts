// `grid run`'s view of the ingestion aggregation (src/ingest/Aggregator.ts, the same code
// the daemon's ingestion runs): the engine's samples go into its per-second windows; each
// closed window is folded into the run totals and reduced to a point of the time series
// (progress line, HTML report); at the end the totals become the RunSummary (src/report).
import { Aggregator, type ClosedWindow } from "../ingest/Aggregator.ts"
import type { SampleSink } from "../ingest/Sample.ts"
import { pointOf } from "../report/Point.ts"
import type { RunSummary, WindowPoint } from "../report/Summary.ts"
import { Totals } from "../report/Totals.ts"

export type { WindowPoint }

export class RunAggregation {
  readonly startedAt: number
  readonly points: Array<WindowPoint> = []
  private readonly agg: Aggregator
  private readonly totals = new Totals()
  private readonly lateMs: number
  private readonly onClose = (w: ClosedWindow) => {
    this.totals.addWindow(w)
    this.points.push(pointOf(w.seq, w.start, w.end - w.start, w.labels))
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
    this.points.forEach((p, i) => {
      if (p.start + p.durationMs > endedAt) this.points[i] = { ...p, durationMs: Math.max(1, endedAt - p.start) }
    })
    const durationMs = Math.max(1, endedAt - this.startedAt)
    return this.totals.summary({ startedAt: this.startedAt, durationMs, order, dropped, interrupted })
  }
}
