// Artillery's JSON report (`artillery run --output report.json`): `{aggregate, intermediate:
// [period...]}`, each period holding counters, rates, summaries and histograms for ~10 s.
// Artillery keeps no per-request samples, so each intermediate period becomes weighted samples
// (Weighted.ts) at the period's start: per endpoint when the metrics-by-endpoint plugin wrote
// `plugins.metrics-by-endpoint.response_time.<name>` summaries (statuses from its `.codes.<n>`
// counters, connection errors from its `.errors.<code>` counters), else one label `http` from
// `http.response_time`, `http.codes.*` and `errors.*`. A status of 400 and above counts as an
// error (as JMeter does; Artillery itself does not). `http.downloaded_bytes` goes to label `*`.
// `aggregate` is used only when there are no intermediate periods (it repeats them).
// The report is written once, at the end of the run, and can be large: it is scanned as a
// stream and each period parsed on its own, never the whole document.
import type { SampleSink } from "../Sample.ts"
import { BadLines, type ResultParser } from "./Parser.ts"
import { emitAggregate, type Outcome } from "./Weighted.ts"

interface Summary {
  readonly min?: number
  readonly max?: number
  readonly count?: number
  readonly p50?: number
  readonly median?: number
  readonly p75?: number
  readonly p90?: number
  readonly p95?: number
  readonly p99?: number
  readonly p999?: number
}

interface Period {
  readonly counters?: Record<string, number>
  readonly summaries?: Record<string, Summary>
  readonly period?: number | string
  readonly firstMetricAt?: number
  readonly firstCounterAt?: number
}

const ENDPOINT = "plugins.metrics-by-endpoint."
const ENDPOINT_RT = "plugins.metrics-by-endpoint.response_time."

const percentilesOf = (s: Summary): Array<[number, number]> => {
  const out: Array<[number, number]> = []
  const add = (p: number, v: number | undefined) => {
    if (typeof v === "number") out.push([p, v])
  }
  add(50, s.p50 ?? s.median)
  add(75, s.p75)
  add(90, s.p90)
  add(95, s.p95)
  add(99, s.p99)
  add(99.9, s.p999)
  return out
}

/** Status and error outcomes from counters `<prefix>codes.<n>` and `<prefix>errors.<code>`. */
const outcomesOf = (counters: Record<string, number>, codes: string, errors: string) => {
  const withLatency: Array<Outcome> = []
  const noLatency: Array<Outcome> = []
  for (const [k, v] of Object.entries(counters)) {
    if (k.startsWith(codes)) {
      const status = k.slice(codes.length)
      const ok = Number(status) < 400
      withLatency.push({ status, success: ok, count: v, error: ok ? undefined : `HTTP ${status}` })
    } else if (k.startsWith(errors)) {
      const code = k.slice(errors.length)
      noLatency.push({ status: code, success: false, count: v, error: code })
    }
  }
  return { withLatency, noLatency }
}

export const emitPeriod = (sink: SampleSink, p: Period): boolean => {
  const at = Number(p.period ?? p.firstMetricAt ?? p.firstCounterAt)
  if (!Number.isFinite(at)) return false
  const counters = p.counters ?? {}
  const summaries = p.summaries ?? {}
  // Endpoints: those with a latency summary, and those that only had errors (no response).
  const endpoints = new Set(Object.keys(summaries).filter((k) => k.startsWith(ENDPOINT_RT)).map((k) => k.slice(ENDPOINT_RT.length)))
  for (const k of Object.keys(counters)) {
    if (!k.startsWith(ENDPOINT)) continue
    const i = Math.max(k.lastIndexOf(".codes."), k.lastIndexOf(".errors."))
    if (i > ENDPOINT.length) endpoints.add(k.slice(ENDPOINT.length, i))
  }
  const emit = (label: string, s: Summary | undefined, codes: string, errors: string) => {
    const { withLatency, noLatency } = outcomesOf(counters, codes, errors)
    const n = withLatency.reduce((a, o) => a + o.count, 0)
    // Responses without a code counter (should not happen) still count, as successes.
    if (s?.count !== undefined && s.count > n) withLatency.push({ status: "", success: true, count: s.count - n })
    emitAggregate(sink, {
      timestamp: at,
      label,
      percentiles: s === undefined ? [] : percentilesOf(s),
      minMs: s?.min,
      maxMs: s?.max,
      outcomes: withLatency,
      noLatency
    })
  }
  if (endpoints.size > 0) {
    for (const name of endpoints) {
      emit(name, summaries[ENDPOINT_RT + name], `${ENDPOINT}${name}.codes.`, `${ENDPOINT}${name}.errors.`)
    }
  } else {
    emit("http", summaries["http.response_time"], "http.codes.", "errors.")
  }
  const bytes = counters["http.downloaded_bytes"] ?? 0
  if (bytes > 0) {
    sink({ timestamp: at, label: "*", latencyMs: NaN, success: true, status: "", bytesIn: bytes, bytesOut: 0, error: undefined, count: 0 })
  }
  return true
}

/**
 * Walks the JSON bytes keeping only depth and string state, and hands over each complete
 * value of `aggregate` and each element of `intermediate` as its own small JSON text.
 */
export const artilleryReport = (sink: SampleSink): ResultParser => {
  const bad = new BadLines()
  let depth = 0
  let inString = false
  let escaped = false
  let line = 1
  let key = ""
  let strStart: Array<Buffer> | undefined
  let lastString = ""
  let capture: Array<Buffer> | undefined
  let captureDepth = 0
  let captureKey = ""
  let captureLine = 0
  let aggregate: Period | undefined
  let periods = 0

  const finishCapture = (parts: Array<Buffer>) => {
    const text = Buffer.concat(parts).toString("utf8")
    let v: Period
    try {
      v = JSON.parse(text)
    } catch {
      return bad.add(captureLine, text, "not JSON")
    }
    if (captureKey === "aggregate") aggregate = v
    else if (emitPeriod(sink, v)) periods++
    else bad.add(captureLine, text, "not an Artillery period (counters, summaries)")
  }

  const push = (chunk: Uint8Array) => {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let from = 0
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i]!
      if (c === 10) line++
      if (inString) {
        if (escaped) escaped = false
        else if (c === 92) escaped = true
        else if (c === 34) {
          inString = false
          if (strStart !== undefined && depth === 1) {
            strStart.push(buf.subarray(from, i))
            lastString = Buffer.concat(strStart).toString("utf8")
            strStart = undefined
          }
        }
        continue
      }
      if (c === 34) {
        inString = true
        if (depth === 1 && capture === undefined) {
          strStart = []
          from = i + 1
        }
      } else if (c === 58 && depth === 1) key = lastString
      else if (c === 123 || c === 91) {
        depth++
        const starts = capture === undefined &&
          ((depth === 2 && c === 123 && key === "aggregate") || (depth === 3 && c === 123 && key === "intermediate"))
        if (starts) {
          capture = []
          captureDepth = depth
          captureKey = key
          captureLine = line
          from = i
        }
      } else if (c === 125 || c === 93) {
        if (capture !== undefined && depth === captureDepth) {
          capture.push(buf.subarray(from, i + 1))
          finishCapture(capture)
          capture = undefined
        }
        depth--
      }
    }
    // Keep the unfinished parts (copied: the caller may reuse its buffer).
    if (capture !== undefined) {
      capture.push(Buffer.from(buf.subarray(from)))
      from = 0
    }
    if (strStart !== undefined) {
      strStart.push(Buffer.from(buf.subarray(from)))
      from = 0
    }
  }

  return {
    bad,
    push,
    end() {
      if (capture !== undefined) bad.add(captureLine, "", "unterminated JSON value (report cut short)")
      if (depth !== 0 && capture === undefined) bad.add(line, "", "unterminated JSON document")
      if (periods === 0 && aggregate !== undefined) emitPeriod(sink, aggregate)
    }
  }
}
