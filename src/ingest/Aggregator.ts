// Per-label windowed aggregation (into src/report's one accumulator), the synchronous core shared by live ingestion (windows closed
// by Effect's Clock in Ingestion.ts) and `grid report` (windows closed by the samples' own time).
//
// Window seq n covers [startedAt + n*windowMs, startedAt + (n+1)*windowMs). A sample goes into
// its own window while that window is open; a window stays open `lateMs` past its end (tools
// buffer their result files). A sample for a window already closed goes into the OLDEST OPEN
// window: it is never dropped (totals stay exact, which is what the tests check against the
// target's own count) and the oldest open window is the nearest in time to where it belonged,
// so the time series is shifted by the least possible. A sample from before the start goes to
// window 0 (or the oldest open), and one implausibly far ahead (more than `maxOpenWindows`
// beyond the oldest open window) is clamped to that horizon, so one bad timestamp cannot make
// memory grow. Memory is bounded by open windows x labels, never by the run's length.
import { LabelAcc } from "../report/LabelAcc.ts"
import { countsInTotal } from "../report/Phase.ts"
import { RecorderPool } from "../report/Recorder.ts"
import type { Sample } from "./Sample.ts"

/** A closed window: per-label accumulators (label `*` included), recorders owned by the pool. */
export interface ClosedWindow {
  readonly seq: number
  readonly start: number
  readonly end: number
  /** `*` first, then labels in order of first appearance; empty for a window without samples. */
  readonly labels: ReadonlyArray<LabelAcc>
}

class OpenWindow {
  readonly labels = new Map<string, LabelAcc>()
  readonly seq: number
  constructor(seq: number) {
    this.seq = seq
  }
}

export interface AggregatorOptions {
  readonly windowMs: number
  /** Epoch ms of window 0; when absent, the first sample's timestamp (offline reports). */
  readonly startedAt?: number | undefined
  readonly maxOpenWindows?: number | undefined
  /** Labels beyond this many are folded into `__other__`, to bound memory on runaway labels. */
  readonly maxLabels?: number | undefined
  /**
   * Whether closed windows carry label `*` (default true: published windows need it). An offline
   * report builds `*` once from the label totals instead, which saves a merge per label-window.
   */
  readonly star?: boolean | undefined
}

export const OTHER_LABEL = "__other__"

export class Aggregator {
  readonly windowMs: number
  startedAt: number | undefined
  private readonly maxOpen: number
  private readonly maxLabels: number
  private readonly star: boolean
  private readonly pool = new RecorderPool()
  /** Open windows, index = seq - firstOpen. */
  private open: Array<OpenWindow | undefined> = []
  /** Seq of the oldest window not yet closed. */
  firstOpen = 0
  /** Highest seq that received a sample (-1: none yet). */
  highestSeen = -1
  /** Latest sample timestamp seen (event time, for offline reports). */
  watermark = -Infinity
  /** Earliest sample timestamp and latest sample end (timestamp + latency) seen. */
  firstTs = Infinity
  lastEnd = -Infinity
  private readonly knownLabels = new Set<string>()
  private winStart = NaN
  private winEnd = NaN
  private lastWin: OpenWindow | undefined = undefined

  constructor(opts: AggregatorOptions) {
    this.windowMs = opts.windowMs
    this.startedAt = opts.startedAt
    this.maxOpen = opts.maxOpenWindows ?? 600
    this.maxLabels = opts.maxLabels ?? 1000
    this.star = opts.star ?? true
  }

  /** The SampleSink: synchronous, one call per sample. */
  readonly add = (s: Sample): void => {
    const ts = s.timestamp
    if (this.startedAt === undefined) this.startedAt = ts - (ts % this.windowMs)
    if (ts > this.watermark) this.watermark = ts
    if (ts < this.firstTs) this.firstTs = ts
    const end = s.latencyMs >= 0 ? ts + s.latencyMs : ts
    if (end > this.lastEnd) this.lastEnd = end
    let w: OpenWindow
    if (ts >= this.winStart && ts < this.winEnd && this.lastWin !== undefined) {
      w = this.lastWin
    } else {
      let seq = Math.floor((ts - this.startedAt) / this.windowMs)
      if (!(seq >= this.firstOpen)) seq = this.firstOpen // also catches NaN timestamps
      else if (seq > this.firstOpen + this.maxOpen) seq = this.firstOpen + this.maxOpen
      const i = seq - this.firstOpen
      w = this.open[i] ?? (this.open[i] = new OpenWindow(seq))
      // Only a sample in its own window may take the shortcut next time.
      const own = Math.floor((ts - this.startedAt) / this.windowMs) === seq
      this.winStart = own ? this.windowStart(seq) : NaN
      this.winEnd = own ? this.winStart + this.windowMs : NaN
      this.lastWin = w
      if (seq > this.highestSeen) this.highestSeen = seq
    }
    let label = s.label
    let acc = w.labels.get(label)
    if (acc === undefined) {
      if (!this.knownLabels.has(label)) {
        if (this.knownLabels.size >= this.maxLabels && label !== "*") label = OTHER_LABEL
        else this.knownLabels.add(label)
      }
      acc = w.labels.get(label)
      if (acc === undefined) {
        acc = new LabelAcc(label, this.pool.take())
        w.labels.set(label, acc)
      }
    }
    const merged = s.merged
    if (merged === undefined) acc.add(s, s.count ?? 1)
    else acc.merge(merged)
  }

  /** Start (epoch ms) of window `seq`. */
  windowStart(seq: number): number {
    return (this.startedAt ?? 0) + seq * this.windowMs
  }

  /** Seq of the window containing instant `t`. */
  seqAt(t: number): number {
    return Math.floor((t - (this.startedAt ?? t)) / this.windowMs)
  }

  /**
   * Closes, in order, every window whose end is at or before `closeBefore` (epoch ms), empty ones
   * included so seq has no gaps. Each closed window goes to `onClose`, then its recorders return
   * to the pool: `onClose` must not keep the LabelAccs.
   */
  closeUntil(closeBefore: number, onClose: (w: ClosedWindow) => void): void {
    if (this.startedAt === undefined) return
    while (this.windowStart(this.firstOpen + 1) <= closeBefore) this.closeOne(onClose)
  }

  /** Closes every window up to and including `lastSeq` (at least every window with samples). */
  closeThrough(lastSeq: number, onClose: (w: ClosedWindow) => void): void {
    const last = Math.max(lastSeq, this.highestSeen)
    while (this.firstOpen <= last) this.closeOne(onClose)
  }

  private closeOne(onClose: (w: ClosedWindow) => void): void {
    const w = this.open.shift()
    const seq = this.firstOpen
    this.firstOpen++
    this.winStart = NaN
    this.winEnd = NaN
    this.lastWin = undefined
    const labels: Array<LabelAcc> = []
    if (w !== undefined && w.labels.size > 0 && !this.star) {
      for (const acc of w.labels.values()) labels.push(acc)
    } else if (w !== undefined && w.labels.size > 0) {
      let all = w.labels.get("*")
      if (all === undefined) all = new LabelAcc("*", this.pool.take())
      else w.labels.delete("*")
      labels.push(all)
      for (const acc of w.labels.values()) {
        if (countsInTotal(acc.label)) all.merge(acc)
        labels.push(acc)
      }
    }
    const start = this.windowStart(seq)
    onClose({ seq, start, end: start + this.windowMs, labels })
    for (const acc of labels) this.pool.give(acc.rec)
  }
}
