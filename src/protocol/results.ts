// Wire schemas of result windows (`grid.results.<testId>.<nodeId>`, stream GRID_RESULTS) and of
// the run `summary` carried by terminal events, as docs/protocol.md defines them, plus the
// HdrHistogram helpers readers need. Merging windows (by histogram, never by averaging
// percentiles) is src/report's.
import * as hdr from "hdr-histogram-js"
import { Schema } from "effect"
import { encodeHdr } from "./hdrWire.ts"

/** Latency statistics in milliseconds; percentiles come from the HdrHistogram. */
export const LatencyStats = Schema.Struct({
  min: Schema.Finite,
  mean: Schema.Finite,
  p50: Schema.Finite,
  /** Optional: added with the browser engine's Web Vitals thresholds (`home:lcp p75 < 2.5s`). */
  p75: Schema.optional(Schema.Finite),
  p90: Schema.Finite,
  p95: Schema.Finite,
  p99: Schema.Finite,
  max: Schema.Finite
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

/** A window's `hdr` field; hdrWire.ts says why not the library's own encoder. */
export const encodeHistogram = (h: hdr.Histogram): string => encodeHdr(h)

/** Decodes a window's `hdr` field back into a histogram (microseconds). */
export const decodeHistogram = (base64: string): hdr.Histogram => {
  const h = hdr.decodeFromCompressedBase64(base64, 64, false)
  h.autoResize = true
  return h
}

/** Percentiles of a microsecond histogram, in ms; min/mean/max given exactly by the caller. */
export const latencyStats = (h: hdr.Histogram, exact: { min: number; mean: number; max: number }): LatencyStats => {
  if (h.totalCount === 0) return { min: 0, mean: 0, p50: 0, p75: 0, p90: 0, p95: 0, p99: 0, max: 0 }
  // A histogram bucket's upper edge can pass the recorded max (p99 300.1 with max 300):
  // percentiles are clamped to the exact min and max.
  const at = (p: number) => Math.min(exact.max, Math.max(exact.min, h.getValueAtPercentile(p) / 1000))
  return { min: exact.min, mean: exact.mean, p50: at(50), p75: at(75), p90: at(90), p95: at(95), p99: at(99), max: exact.max }
}
