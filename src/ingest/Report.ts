// The core of `grid report`: stream a finished result file through its format's parser and the
// same windowed aggregation live ingestion uses (windows closed by the samples' own time), fold
// the windows into run totals, and summarise them. Plain synchronous code on Buffers: this is
// the path `npm run bench` measures; the CLI wraps it in Effect.
import { closeSync, openSync, readSync } from "node:fs"
import type { WindowPoint } from "../engine/RunAggregation.ts"
import type { LatencyStats } from "../protocol/results.ts"
import { latencyStats } from "../protocol/results.ts"
import { Aggregator, type ClosedWindow, LabelAcc, Totals } from "./Aggregator.ts"
import { type Detected, detectFormat } from "./detectFormat.ts"
import { Recorder } from "./Recorder.ts"
import { parserFor } from "./parsers/index.ts"
import type { BadLine, ResultFormat } from "./parsers/Parser.ts"

export interface LabelReport {
  readonly label: string
  readonly count: number
  readonly errors: number
  readonly errorPct: number
  readonly bytesIn: number
  readonly bytesOut: number
  readonly rps: number
  readonly latencyMs: LatencyStats
  readonly status: Record<string, number>
}

export interface FileReport {
  readonly file: string
  readonly format: ResultFormat
  /** Time spanned by the samples: first start to last end, ms. */
  readonly durationMs: number
  readonly windows: number
  readonly windowMs: number
  /** Label `*` first, then the labels by name. */
  readonly labels: ReadonlyArray<LabelReport>
  readonly badLines: { readonly count: number; readonly first: ReadonlyArray<BadLine> }
  /** Epoch ms of the first sample (0 without samples). */
  readonly startedAt: number
  /** Per-window points (for an HTML report), when asked for with `points`. */
  readonly points?: ReadonlyArray<WindowPoint> | undefined
}

export interface ReportOptions {
  readonly windowMs?: number
  /** How far (ms of sample time) a window stays open for out-of-order samples. */
  readonly lateMs?: number
  readonly chunkBytes?: number
  /** Also reduce every window to a point of the time series (costs a merge per window). */
  readonly points?: boolean
}

/** The format of `file`, from its first 64 KiB. Throws only on I/O errors. */
export const detectFile = (file: string): Detected => {
  const buf = Buffer.allocUnsafe(64 * 1024)
  const fd = openSync(file, "r")
  try {
    const n = readSync(fd, buf, 0, buf.length, 0)
    return detectFormat(buf.toString("utf8", 0, n))
  } finally {
    closeSync(fd)
  }
}

/** One closed window as a point: every label merged (the offline windows carry no `*`). */
const pointOf = (w: ClosedWindow): WindowPoint => {
  const all = new LabelAcc("*", new Recorder())
  for (const acc of w.labels) if (acc.label !== "*") all.merge(acc)
  const s = latencyStats(all.rec.toHistogram(), { min: all.min, mean: all.mean, max: all.max })
  const labels: Record<string, { count: number; errors: number; p95: number }> = {}
  for (const acc of w.labels) {
    if (acc.label === "*") continue
    const p95 = acc.rec.total > 0 ? Math.min(acc.max, Math.max(acc.min, acc.rec.toHistogram().getValueAtPercentile(95) / 1000)) : 0
    labels[acc.label] = { count: acc.count, errors: acc.errors, p95 }
  }
  return {
    seq: w.seq,
    start: w.start,
    durationMs: w.end - w.start,
    count: all.count,
    errors: all.errors,
    latencyMs: { p50: s.p50, p90: s.p90, p95: s.p95, p99: s.p99, max: all.count > 0 ? all.max : 0 },
    labels
  }
}

const labelReport = (acc: LabelAcc, durationMs: number): LabelReport => {
  const h = acc.rec.toHistogram()
  const has = acc.rec.total > 0
  return {
    label: acc.label,
    count: acc.count,
    errors: acc.errors,
    errorPct: acc.count > 0 ? (100 * acc.errors) / acc.count : 0,
    bytesIn: acc.bytesIn,
    bytesOut: acc.bytesOut,
    rps: durationMs > 0 ? acc.count / (durationMs / 1000) : 0,
    latencyMs: latencyStats(h, { min: has ? acc.min : 0, mean: acc.mean, max: has ? acc.max : 0 }),
    status: Object.fromEntries([...acc.status].sort(([a], [b]) => a.localeCompare(b)))
  }
}

/** Reads `file` in chunks (never whole) and summarises it. Throws only on I/O errors. */
export const reportFile = (file: string, format: ResultFormat, opts: ReportOptions = {}): FileReport => {
  const windowMs = opts.windowMs ?? 1000
  const lateMs = opts.lateMs ?? 5000
  const agg = new Aggregator({ windowMs, star: false })
  const totals = new Totals()
  const points: Array<WindowPoint> = []
  const onClose = opts.points === true
    ? (w: ClosedWindow) => {
      points.push(pointOf(w))
      totals.addWindow(w)
    }
    : totals.addWindow.bind(totals)
  const parser = parserFor(format, agg.add)
  const buf = Buffer.allocUnsafe(opts.chunkBytes ?? 1 << 20)
  const fd = openSync(file, "r")
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null)
      if (n <= 0) break
      parser.push(buf.subarray(0, n))
      agg.closeUntil(agg.watermark - lateMs, onClose)
    }
  } finally {
    closeSync(fd)
  }
  parser.end()
  agg.closeThrough(agg.highestSeen, onClose)
  if (totals.labels.size > 0) totals.addStar()
  const durationMs = agg.firstTs === Infinity ? 0 : Math.max(0, agg.lastEnd - agg.firstTs)
  const all = totals.all
  const rest = [...totals.labels.values()].filter((l) => l !== all).sort((a, b) => a.label.localeCompare(b.label))
  return {
    file,
    format,
    durationMs,
    windows: totals.windows,
    windowMs,
    labels: (all === undefined ? rest : [all, ...rest]).map((l) => labelReport(l, durationMs)),
    badLines: parser.bad.toJSON(),
    startedAt: agg.firstTs === Infinity ? 0 : agg.firstTs,
    ...(opts.points === true ? { points } : {})
  }
}
