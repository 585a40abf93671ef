// The one text rendering of a summary, the same for `grid run`, `grid launch`, `grid results`
// and `grid report`: a row per label then the TOTAL row (count, rps, errors, min/p50/p90/p95/
// p99/max ms), the run's notes, and the threshold verdicts. Pure functions returning strings.
import { parseThreshold } from "../engine/Thresholds.ts"
import type { LabelSummary, RunSummary } from "./Summary.ts"

export const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))
export const pct = (errors: number, count: number): string => (count === 0 ? "0%" : `${((errors / count) * 100).toFixed(2)}%`)

const row = (l: LabelSummary): Array<string> => [
  // Labels come from result files: control characters are shown escaped, not obeyed.
  l.label === "*" ? "TOTAL" : JSON.stringify(l.label).slice(1, -1),
  String(l.count),
  l.rps.toFixed(1),
  `${l.errors} (${pct(l.errors, l.count)})`,
  ms(l.latencyMs.min),
  ms(l.latencyMs.p50),
  ms(l.latencyMs.p90),
  ms(l.latencyMs.p95),
  ms(l.latencyMs.p99),
  ms(l.latencyMs.max)
]

export const summaryTable = (s: RunSummary): string => {
  const header = ["label", "count", "rps", "errors", "min ms", "p50", "p90", "p95", "p99", "max"]
  const rows = [...s.labels.map(row), row(s.total)]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: Array<string>) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  const rule = widths.map((w) => "-".repeat(w)).join("  ")
  const out = [line(header), rule, ...rows.slice(0, -1).map(line)]
  if (s.labels.length > 0) out.push(rule)
  out.push(line(rows[rows.length - 1]!))
  const notes = [`duration ${(s.durationMs / 1000).toFixed(1)} s${s.interrupted ? " (interrupted)" : ""}`]
  if (s.generatorCpuMs !== undefined) {
    const cpu = (s.generatorCpuMs / s.durationMs) * 100
    notes.push(`generator CPU ${cpu.toFixed(0)}% of one core${cpu > 90 ? " (saturated: latencies include the generator's own queueing)" : ""}`)
  }
  if (s.dropped > 0) notes.push(`${s.dropped} arrivals dropped (no free connection), counted as errors`)
  const codes = Object.entries(s.total.status).map(([k, v]) => `${k}: ${v}`).join(", ")
  if (codes !== "") notes.push(`status ${codes}`)
  return [...out, "", ...notes].join("\n")
}

/** The measured value with the threshold's unit: `41.18 ms`, `0.5%`, `3 errors`, `812.4 req/s`. */
export const actualText = (threshold: string, actual: number): string => {
  if (Number.isNaN(actual)) return "no samples"
  const n = +actual.toFixed(2)
  const t = parseThreshold(threshold)
  if (typeof t === "string") return String(n)
  switch (t.metric) {
    case "errors":
      return t.percent ? `${n}%` : `${n} error${n === 1 ? "" : "s"}`
    case "rps":
      return `${n} req/s`
    case "count":
      return `${n} request${n === 1 ? "" : "s"}`
    default:
      return `${n} ms`
  }
}

export const thresholdLines = (s: RunSummary): string =>
  s.thresholds
    .map((t) => `${t.ok ? "ok    " : "BREACH"}  ${t.threshold}  (actual ${actualText(t.threshold, t.actual)})`)
    .join("\n")
