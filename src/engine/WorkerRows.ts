// How an engine worker's results reach its parent cheaply and exactly: instead of every sample
// (100k a second per core, each a line to parse), a worker aggregates its samples into short
// windows (200 ms, aligned to the epoch so every worker's windows coincide) and sends each
// label's accumulator as one row: counts, bytes, exact min/max/sum, the status map, and the
// latency histogram's non-empty buckets. The parent turns a row back into an accumulator and
// pushes it into the one ingestion path as a merged Sample (Sample.merged), so its per-second
// windows, the summary and the thresholds come from merged histograms, never averages.
// A window straddling a second boundary goes whole into the parent's window of its start: the
// time series may shift by up to 200 ms, the totals not at all.
import { Aggregator, type ClosedWindow } from "../ingest/Aggregator.ts"
import type { SampleSink } from "../ingest/Sample.ts"
import { decodeHistogram, encodeHistogram } from "../protocol/results.ts"
import { LabelAcc } from "../report/LabelAcc.ts"
import { Recorder, valueAtIndex } from "../report/Recorder.ts"
import type { WorkerRow } from "./WorkerWire.ts"

/** A worker's window length; its parent's windows (a second) are whole multiples of it. */
export const WORKER_WINDOW_MS = 200

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null)

const toRow = (at: number, acc: LabelAcc): WorkerRow => {
  const buckets: Array<number> = []
  const counts = acc.rec.counts
  let inRange = 0
  for (let idx = 0; idx < counts.length; idx++) {
    const c = counts[idx]!
    if (c !== 0) {
      buckets.push(idx, c)
      inRange += c
    }
  }
  return {
    at,
    label: acc.label,
    count: acc.count,
    errors: acc.errors,
    bytesIn: acc.bytesIn,
    bytesOut: acc.bytesOut,
    min: finite(acc.min),
    max: finite(acc.max),
    sum: acc.sum,
    status: Object.fromEntries(acc.status),
    buckets,
    // Latencies past the flat range (over 35 minutes) are rare: the whole histogram then.
    ...(inRange < acc.rec.total ? { hdr: encodeHistogram(acc.rec.toHistogram()) } : {})
  }
}

/** The worker's side: a SampleSink whose closed windows come out as rows. */
export class WorkerWindows {
  private readonly agg = new Aggregator({ windowMs: WORKER_WINDOW_MS, star: false })

  readonly sink: SampleSink = this.agg.add

  /** Rows of every window that ended at or before `closeBefore` (epoch ms). */
  take(closeBefore: number): Array<WorkerRow> {
    const rows: Array<WorkerRow> = []
    this.agg.closeUntil(closeBefore, this.collect(rows))
    return rows
  }

  /** Rows of every window still open (the run is over). */
  rest(now: number): Array<WorkerRow> {
    const rows: Array<WorkerRow> = []
    if (this.agg.startedAt !== undefined) this.agg.closeThrough(this.agg.seqAt(now), this.collect(rows))
    return rows
  }

  private collect(rows: Array<WorkerRow>) {
    return (w: ClosedWindow) => {
      for (const acc of w.labels) rows.push(toRow(w.start, acc))
    }
  }
}

/** Every value of an encoded histogram, at its bucket's lowest value (as the recorder keeps it). */
const addHdr = (rec: Recorder, base64: string): void => {
  const h = decodeHistogram(base64) as unknown as { countsArrayLength: number; getCountAtIndex(i: number): number; valueFromIndex(i: number): number }
  for (let idx = 0; idx < h.countsArrayLength; idx++) {
    const c = h.getCountAtIndex(idx)
    if (c > 0) rec.record(h.valueFromIndex(idx), c)
  }
}

/** The parent's side: each row becomes an accumulator pushed into `sink` as a merged Sample. */
export class RowMerger {
  private readonly rec = new Recorder()
  private readonly sink: SampleSink
  constructor(sink: SampleSink) {
    this.sink = sink
  }

  add(row: WorkerRow): void {
    const acc = new LabelAcc(row.label, this.rec)
    acc.count = row.count
    acc.errors = row.errors
    acc.bytesIn = row.bytesIn
    acc.bytesOut = row.bytesOut
    acc.min = row.min ?? Infinity
    acc.max = row.max ?? -Infinity
    acc.sum = row.sum
    for (const k in row.status) acc.status.set(k, row.status[k]!)
    if (row.hdr !== undefined) addHdr(this.rec, row.hdr)
    else for (let i = 0; i < row.buckets.length; i += 2) this.rec.record(valueAtIndex(row.buckets[i]!), row.buckets[i + 1]!)
    this.sink({ timestamp: row.at, label: row.label, latencyMs: Number.NaN, success: true, status: "", bytesIn: 0, bytesOut: 0, merged: acc })
    this.rec.reset()
  }
}
