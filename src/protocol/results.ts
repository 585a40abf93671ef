// Wire schemas of result windows (`grid.results.<testId>.<nodeId>`, stream GRID_RESULTS) and of
// the run `summary` carried by terminal events, as docs/protocol.md defines them, plus the
// HdrHistogram helpers readers need: decode a window's `hdr`, merge windows by histogram
// (never by averaging percentiles), and derive a summary from merged windows.
import * as hdr from "hdr-histogram-js"
import { Schema } from "effect"

/** Latency statistics in milliseconds; percentiles come from the HdrHistogram. */
export const LatencyStats = Schema.Struct({
  min: Schema.Number,
  mean: Schema.Number,
  p50: Schema.Number,
  p90: Schema.Number,
  p95: Schema.Number,
  p99: Schema.Number,
  max: Schema.Number
})
export type LatencyStats = typeof LatencyStats.Type

/** One label's share of a window; label `*` aggregates all of the window's samples. */
export const LabelWindow = Schema.Struct({
  label: Schema.String,
  count: Schema.Number,
  errors: Schema.Number,
  bytesIn: Schema.Number,
  bytesOut: Schema.Number,
  latencyMs: LatencyStats,
  status: Schema.Record(Schema.String, Schema.Number),
  /** HdrHistogram of latencies in microseconds, base64 of its compressed encoding. */
  hdr: Schema.String
})
export type LabelWindow = typeof LabelWindow.Type

/** One result message: window `seq` covers [start, end) in epoch ms, counted from the node's `started`. */
export const ResultWindow = Schema.Struct({
  testId: Schema.String,
  nodeId: Schema.String,
  seq: Schema.Number,
  start: Schema.Number,
  end: Schema.Number,
  labels: Schema.Array(LabelWindow),
  final: Schema.Boolean,
  /** The start command's `labels` (the field `labels` holds the per-label rows). */
  testLabels: Schema.optional(Schema.Record(Schema.String, Schema.String))
})
export type ResultWindow = typeof ResultWindow.Type

/** The `summary` of a `finished` event, over the whole run. */
export const Summary = Schema.Struct({
  count: Schema.Number,
  errors: Schema.Number,
  bytesIn: Schema.Number,
  durationMs: Schema.Number,
  rps: Schema.Number,
  latencyMs: LatencyStats
})
export type Summary = typeof Summary.Type

export const decodeResultWindow = Schema.decodeUnknownEffect(Schema.fromJsonString(ResultWindow))
export const encodeResultWindow = (w: ResultWindow): string => JSON.stringify(w)

/** Subject and dedup id of a window, as the protocol fixes them. */
export const resultSubject = (prefix: string, testId: string, nodeId: string): string =>
  `${prefix}.results.${testId}.${nodeId}`
export const resultMsgId = (w: Pick<ResultWindow, "testId" | "nodeId" | "seq">): string =>
  `${w.testId}.${w.nodeId}.${w.seq}`

/** A fresh histogram with the protocol's settings: microseconds, 3 significant digits. */
export const newHistogram = (): hdr.Histogram =>
  hdr.build({ numberOfSignificantValueDigits: 3, bitBucketSize: 64, autoResize: true })

export const encodeHistogram = (h: hdr.Histogram): string => hdr.encodeIntoCompressedBase64(h)

/** Decodes a window's `hdr` field back into a histogram (microseconds). */
export const decodeHistogram = (base64: string): hdr.Histogram => {
  const h = hdr.decodeFromCompressedBase64(base64, 64, false)
  h.autoResize = true
  return h
}

/** Percentiles of a microsecond histogram, in ms; min/mean/max given exactly by the caller. */
export const latencyStats = (h: hdr.Histogram, exact: { min: number; mean: number; max: number }): LatencyStats => {
  if (h.totalCount === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 }
  // A histogram bucket's upper edge can pass the recorded max (p99 300.1 with max 300):
  // percentiles are clamped to the exact min and max.
  const at = (p: number) => Math.min(exact.max, Math.max(exact.min, h.getValueAtPercentile(p) / 1000))
  return { min: exact.min, mean: exact.mean, p50: at(50), p90: at(90), p95: at(95), p99: at(99), max: exact.max }
}

/** A label merged over many windows (and nodes): counts add, histograms add. */
export interface MergedLabel {
  readonly label: string
  count: number
  errors: number
  bytesIn: number
  bytesOut: number
  min: number
  max: number
  sum: number
  readonly status: Record<string, number>
  readonly histogram: hdr.Histogram
}

/**
 * Merges windows label by label. A repeated (testId, nodeId, seq) is dropped, as the protocol
 * asks of readers (a retried publish can arrive after the window was already delivered).
 */
export const mergeWindows = (windows: Iterable<ResultWindow>): Map<string, MergedLabel> => {
  const seen = new Set<string>()
  const out = new Map<string, MergedLabel>()
  for (const w of windows) {
    const id = resultMsgId(w)
    if (seen.has(id)) continue
    seen.add(id)
    for (const l of w.labels) {
      let m = out.get(l.label)
      if (m === undefined) {
        m = {
          label: l.label,
          count: 0,
          errors: 0,
          bytesIn: 0,
          bytesOut: 0,
          min: Infinity,
          max: -Infinity,
          sum: 0,
          status: {},
          histogram: newHistogram()
        }
        out.set(l.label, m)
      }
      m.count += l.count
      m.errors += l.errors
      m.bytesIn += l.bytesIn
      m.bytesOut += l.bytesOut
      if (l.count > 0) {
        m.min = Math.min(m.min, l.latencyMs.min)
        m.max = Math.max(m.max, l.latencyMs.max)
        m.sum += l.latencyMs.mean * l.count
      }
      for (const [k, v] of Object.entries(l.status)) m.status[k] = (m.status[k] ?? 0) + v
      m.histogram.add(decodeHistogram(l.hdr))
    }
  }
  return out
}

export const mergedLatency = (m: MergedLabel): LatencyStats =>
  latencyStats(m.histogram, {
    min: m.count > 0 ? m.min : 0,
    mean: m.count > 0 ? m.sum / m.count : 0,
    max: m.count > 0 ? m.max : 0
  })

/** The run summary from merged label `*` over a run of `durationMs`. */
export const summaryOf = (all: MergedLabel | undefined, durationMs: number): Summary => ({
  count: all?.count ?? 0,
  errors: all?.errors ?? 0,
  bytesIn: all?.bytesIn ?? 0,
  durationMs,
  rps: all !== undefined && durationMs > 0 ? all.count / (durationMs / 1000) : 0,
  latencyMs: all === undefined ? latencyStats(newHistogram(), { min: 0, mean: 0, max: 0 }) : mergedLatency(all)
})
