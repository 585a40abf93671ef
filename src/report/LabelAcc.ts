// The one accumulator of a label's figures: counts, bytes, exact min/max/sum, the status map and
// the latency histogram. Ingestion adds samples to it (the hot path: `add` stays branch-light),
// the controller adds result-window rows from many nodes, and every summary, window row and
// point is read from it, so percentiles always come from merged histograms, never averages.
import type * as hdr from "hdr-histogram-js"
import { type LabelWindow, latencyStats } from "../protocol/results.ts"
import { Recorder } from "./Recorder.ts"
import type { LabelSummary } from "./Summary.ts"

/** What `add` reads of a sample (src/ingest/Sample.ts). */
export interface SampleFigures {
  readonly bytesIn: number
  readonly bytesOut: number
  readonly success: boolean
  readonly status: string
  /** Negative: the sample has no latency. */
  readonly latencyMs: number
}

/** What percentiles are read from: a built HdrHistogram, or the Recorder itself. */
export type Percentiles = Pick<hdr.Histogram, "totalCount" | "getValueAtPercentile">

export class LabelAcc {
  count = 0
  errors = 0
  bytesIn = 0
  bytesOut = 0
  min = Infinity
  max = -Infinity
  /** Sum of the latencies recorded (ms); the mean is over `rec.total`, the samples that had one. */
  sum = 0
  private readonly statusMap = new Map<string, number>()
  private runStatus: string | undefined = undefined
  private runCount = 0
  readonly label: string
  readonly rec: Recorder
  constructor(label: string, rec: Recorder = new Recorder()) {
    this.label = label
    this.rec = rec
  }

  /** One sample standing for `n` requests (a tool's aggregated row can stand for many). */
  add(s: SampleFigures, n: number): void {
    this.bytesIn += s.bytesIn
    this.bytesOut += s.bytesOut
    if (n === 0) return
    this.count += n
    if (!s.success) this.errors += n
    // Runs of one status (nearly every sample is "200") skip the map until the status changes.
    if (s.status === this.runStatus) this.runCount += n
    else {
      this.flushStatus()
      this.runStatus = s.status
      this.runCount = n
    }
    const ms = s.latencyMs
    if (ms >= 0) {
      if (ms < this.min) this.min = ms
      if (ms > this.max) this.max = ms
      this.sum += ms * n
      this.rec.record(Math.round(ms * 1000), n)
    }
  }

  private flushStatus(): void {
    if (this.runStatus !== undefined) {
      this.statusMap.set(this.runStatus, (this.statusMap.get(this.runStatus) ?? 0) + this.runCount)
      this.runStatus = undefined
      this.runCount = 0
    }
  }

  /** Count per status code. */
  get status(): Map<string, number> {
    this.flushStatus()
    return this.statusMap
  }

  private addStatus(k: string, v: number): void {
    const st = this.status
    st.set(k, (st.get(k) ?? 0) + v)
  }

  /** Adds another accumulator (same label, or any label into `*`). */
  merge(o: LabelAcc): void {
    this.count += o.count
    this.errors += o.errors
    this.bytesIn += o.bytesIn
    this.bytesOut += o.bytesOut
    if (o.min < this.min) this.min = o.min
    if (o.max > this.max) this.max = o.max
    this.sum += o.sum
    for (const [k, v] of o.status) this.addStatus(k, v)
    o.rec.addInto(this.rec)
  }

  /** Adds one label row of a result window (another node's accumulator, as the wire carries it). */
  addRow(l: LabelWindow): void {
    this.count += l.count
    this.errors += l.errors
    this.bytesIn += l.bytesIn
    this.bytesOut += l.bytesOut
    for (const k in l.status) this.addStatus(k, l.status[k]!)
    if (l.count === 0) return
    const n = this.rec.addEncoded(l.hdr)
    if (n === 0) return
    if (l.latencyMs.min < this.min) this.min = l.latencyMs.min
    if (l.latencyMs.max > this.max) this.max = l.latencyMs.max
    this.sum += l.latencyMs.mean * n
  }

  /** Mean over the samples that had a latency. */
  get mean(): number {
    return this.rec.total > 0 ? this.sum / this.rec.total : 0
  }

  /** Latency statistics; `h` is the recorder's histogram when the caller has built it already. */
  latency(h: Percentiles = this.rec) {
    const has = this.rec.total > 0
    return latencyStats(h as hdr.Histogram, { min: has ? this.min : 0, mean: this.mean, max: has ? this.max : 0 })
  }

  /** The label's row as the protocol states it (a window's row, less its `hdr`). */
  stats(h: Percentiles = this.rec) {
    return {
      label: this.label,
      count: this.count,
      errors: this.errors,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      latencyMs: this.latency(h),
      status: Object.fromEntries([...this.status].sort(([a], [b]) => a.localeCompare(b)))
    }
  }

  /** The label's summary row over a run of `durationMs`. */
  summary(durationMs: number, label: string = this.label): LabelSummary {
    return { ...this.stats(), label, rps: durationMs > 0 ? this.count / (durationMs / 1000) : 0 }
  }
}
