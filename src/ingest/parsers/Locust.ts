// Locust results, two sources:
// - grid's event hook (src/tools/locust/grid_locust_hook.py), one JSON line per request:
//   {"timestamp": start epoch ms, "label", "method", "latencyMs", "success", "status",
//    "bytesIn", "bytesOut", "error"}. Exact, and written as requests complete: the reliable one.
// - Locust's own `--csv` stats history (`<prefix>_stats_history.csv`): cumulative counters per
//   (Type, Name) every few seconds, flushed only every 10 s and not at exit by Debian's 2.12.
//   Each row becomes weighted samples (see Weighted.ts) for the requests added since the
//   previous row of the same name: the count and failure deltas are exact, latencies follow
//   the row's percentiles. The "Aggregated" row is used only while no per-name row has been
//   seen (without --csv-full-history Locust writes nothing else).
// Format `locust` tells the two apart by the file's first byte (`{` for the hook).
import type { SampleSink } from "../Sample.ts"
import { BadLines, LineSplitter, type ResultParser } from "./Parser.ts"
import { emitAggregate } from "./Weighted.ts"

const str = (v: unknown): v is string => typeof v === "string"
const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v)

export const locustHook = (sink: SampleSink): ResultParser => {
  const bad = new BadLines()
  const lines = new LineSplitter((buf, s, e, lineNo) => {
    if (e <= s) return
    const text = buf.toString("utf8", s, e)
    let o: Record<string, unknown>
    try {
      o = JSON.parse(text)
    } catch {
      return bad.add(lineNo, text, "not JSON")
    }
    if (o === null || typeof o !== "object" || !num(o.timestamp) || !str(o.label) || !num(o.latencyMs) || typeof o.success !== "boolean") {
      return bad.add(lineNo, text, "not a grid Locust hook line (timestamp, label, latencyMs, success)")
    }
    sink({
      timestamp: o.timestamp,
      label: o.label,
      latencyMs: o.latencyMs,
      success: o.success,
      status: str(o.status) ? o.status : "",
      bytesIn: num(o.bytesIn) ? o.bytesIn : 0,
      bytesOut: num(o.bytesOut) ? o.bytesOut : 0,
      error: str(o.error) ? o.error : undefined
    })
  })
  return { bad, push: (c) => lines.push(c), end: () => lines.end() }
}

/** Splits one CSV line as Python's csv module writes it (quotes only where needed). */
export const splitCsv = (line: string): Array<string> => {
  const out: Array<string> = []
  let i = 0
  for (;;) {
    if (line[i] === '"') {
      let v = ""
      i++
      for (;;) {
        const q = line.indexOf('"', i)
        if (q < 0) {
          v += line.slice(i)
          i = line.length
          break
        }
        v += line.slice(i, q)
        if (line[q + 1] === '"') {
          v += '"'
          i = q + 2
        } else {
          i = q + 1
          break
        }
      }
      out.push(v)
      const c = line.indexOf(",", i)
      if (c < 0) return out
      i = c + 1
    } else {
      const c = line.indexOf(",", i)
      if (c < 0) {
        out.push(line.slice(i))
        return out
      }
      out.push(line.slice(i, c))
      i = c + 1
    }
  }
}

export const locustStatsHistory = (sink: SampleSink): ResultParser => {
  const bad = new BadLines()
  let header: Array<string> | undefined
  const prev = new Map<string, { count: number; failures: number; bytes: number }>()
  let perName = false
  const lines = new LineSplitter((buf, s, e, lineNo) => {
    if (e <= s) return
    const text = buf.toString("utf8", s, e)
    const f = splitCsv(text)
    if (header === undefined) {
      if (!f.includes("Timestamp") || !f.includes("Total Request Count")) return bad.add(lineNo, text, "not a Locust stats history header (Timestamp, Total Request Count ...)")
      header = f
      return
    }
    if (f.length < header.length) return bad.add(lineNo, text, `${f.length} fields, the header has ${header.length}`)
    const get = (name: string) => f[header!.indexOf(name)]
    const n = (name: string) => {
      const v = get(name)
      return v === undefined || v === "" || v === "N/A" ? NaN : Number(v)
    }
    const ts = n("Timestamp")
    const total = n("Total Request Count")
    const failures = n("Total Failure Count")
    if (!Number.isFinite(ts) || !Number.isFinite(total) || !Number.isFinite(failures)) return bad.add(lineNo, text, "Timestamp or request counts not numbers")
    const name = get("Name") ?? ""
    const type = get("Type") ?? ""
    const aggregated = name === "Aggregated" && type === ""
    if (!aggregated && total > 0) perName = true
    if (aggregated && perName) return
    const key = `${type} ${name}`
    const p = prev.get(key) ?? { count: 0, failures: 0, bytes: 0 }
    const avgSize = n("Total Average Content Size")
    const bytes = Number.isFinite(avgSize) ? avgSize * total : p.bytes
    prev.set(key, { count: total, failures, bytes })
    const dn = total - p.count
    const df = Math.max(0, Math.min(dn, failures - p.failures))
    if (dn <= 0) return
    const percentiles: Array<[number, number]> = []
    for (const h of header) {
      const m = /^(\d+(?:\.\d+)?)%$/.exec(h)
      if (m) percentiles.push([Number(m[1]), n(h)])
    }
    emitAggregate(sink, {
      timestamp: ts * 1000,
      label: name,
      percentiles,
      minMs: undefined,
      maxMs: undefined,
      outcomes: [
        { status: "", success: true, count: dn - df },
        { status: "", success: false, count: df, error: "locust failure" }
      ],
      bytesIn: Math.max(0, Math.round(bytes - p.bytes))
    })
  })
  return { bad, push: (c) => lines.push(c), end: () => lines.end() }
}

/** Format `locust`: the hook's JSON lines or the CSV stats history, by the first byte. */
export const locust = (sink: SampleSink): ResultParser => {
  let inner: ResultParser | undefined
  const bad = new BadLines()
  return {
    get bad() {
      return inner?.bad ?? bad
    },
    push(chunk) {
      if (chunk.length === 0) return
      inner ??= chunk[0] === 123 ? locustHook(sink) : locustStatsHistory(sink)
      inner.push(chunk)
    },
    end() {
      inner?.end()
    }
  }
}
