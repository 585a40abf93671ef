// k6 `--out json=<file>` lines. No k6 binary is available here: this follows k6's documented
// format only (docs "JSON output": one JSON object per line, `{"type":"Metric",...}`
// declarations and `{"type":"Point","metric":...,"data":{"time":RFC3339,"value":n,"tags":{...}}}`
// samples), and is tested against fixtures written from that documentation.
// Mapping: one sample per `http_req_duration` point: label = tags.name (k6 defaults it to the
// URL), status = tags.status, success = tags.expected_response (k6 >= 0.31), else status
// 1xx-3xx, error = tags.error, latency = value (ms), timestamp = time - value (k6 stamps the
// point at the response's end). `data_received`/`data_sent` are per iteration, not per
// request: they become bytes-only samples (count 0) of label `*`. Other metrics are ignored.
import type { SampleSink } from "../Sample.ts"
import { BadLines, LineSplitter, type ResultParser } from "./Parser.ts"

interface Point {
  readonly type?: unknown
  readonly metric?: unknown
  readonly data?: { readonly time?: unknown; readonly value?: unknown; readonly tags?: Record<string, unknown> | null }
}

export const k6Json = (sink: SampleSink): ResultParser => {
  const bad = new BadLines()
  const lines = new LineSplitter((buf, s, e, lineNo) => {
    if (e <= s) return
    const text = buf.toString("utf8", s, e)
    let o: Point
    try {
      o = JSON.parse(text)
    } catch {
      return bad.add(lineNo, text, "not JSON")
    }
    if (o === null || typeof o !== "object" || typeof o.type !== "string") return bad.add(lineNo, text, "not a k6 JSON line (no type)")
    if (o.type !== "Point") return
    const m = o.metric
    if (m !== "http_req_duration" && m !== "data_received" && m !== "data_sent") return
    const d = o.data
    const value = d?.value
    const at = typeof d?.time === "string" ? Date.parse(d.time) : NaN
    if (typeof value !== "number" || !Number.isFinite(value) || !Number.isFinite(at)) return bad.add(lineNo, text, "a Point without a numeric value or a time")
    const tags = d?.tags ?? {}
    if (m !== "http_req_duration") {
      sink({
        timestamp: at,
        label: "*",
        latencyMs: NaN,
        success: true,
        status: "",
        bytesIn: m === "data_received" ? value : 0,
        bytesOut: m === "data_sent" ? value : 0,
        error: undefined,
        count: 0
      })
      return
    }
    const status = typeof tags.status === "string" ? tags.status : ""
    const code = Number(status)
    const success = typeof tags.expected_response === "string" ? tags.expected_response === "true" : code >= 100 && code < 400
    const label = typeof tags.name === "string" ? tags.name : typeof tags.url === "string" ? tags.url : "http"
    sink({
      timestamp: at - value,
      label,
      latencyMs: value,
      success,
      status,
      bytesIn: 0,
      bytesOut: 0,
      error: typeof tags.error === "string" ? tags.error : success ? undefined : `HTTP ${status}`
    })
  })
  return { bad, push: (c) => lines.push(c), end: () => lines.end() }
}
