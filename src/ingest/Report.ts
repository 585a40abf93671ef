// The core of `grid report`: stream a finished result file through its format's parser and the
// same windowed aggregation live ingestion uses (windows closed by the samples' own time), fold
// the windows into run totals (src/report's accumulator), and summarise them. Plain synchronous
// code on Buffers: this is the path `npm run bench` measures; the CLI wraps it in Effect.
import { closeSync, openSync, readSync } from "node:fs"
import { pointOf } from "../report/Point.ts"
import type { RunSummary, WindowPoint } from "../report/Summary.ts"
import { Totals } from "../report/Totals.ts"
import { Aggregator, type ClosedWindow } from "./Aggregator.ts"
import { type Detected, detectFormat } from "./detectFormat.ts"
import { parserFor } from "./parsers/index.ts"
import type { BadLine, ResultFormat } from "./parsers/Parser.ts"

export interface FileReport {
  readonly file: string
  readonly format: ResultFormat
  readonly windowMs: number
  /** Windows the samples spanned. */
  readonly windowCount: number
  /** The one summary; its duration is the time the samples span, first start to last end. */
  readonly summary: RunSummary
  readonly badLines: { readonly count: number; readonly first: ReadonlyArray<BadLine> }
  /** Per-window points, when asked for with `points` (empty otherwise). */
  readonly points: ReadonlyArray<WindowPoint>
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

/** Reads `file` in chunks (never whole) and summarises it. Throws only on I/O errors. */
export const reportFile = (file: string, format: ResultFormat, opts: ReportOptions = {}): FileReport => {
  const windowMs = opts.windowMs ?? 1000
  const lateMs = opts.lateMs ?? 5000
  const agg = new Aggregator({ windowMs, star: false })
  const totals = new Totals()
  const points: Array<WindowPoint> = []
  const onClose = opts.points === true
    ? (w: ClosedWindow) => {
      points.push(pointOf(w.seq, w.start, w.end - w.start, w.labels))
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
  return {
    file,
    format,
    windowMs,
    windowCount: totals.windows,
    summary: totals.summary({ startedAt: agg.firstTs === Infinity ? 0 : agg.firstTs, durationMs }),
    badLines: parser.bad.toJSON(),
    points
  }
}
