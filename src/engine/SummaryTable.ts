// Text rendering for `grid run`: the end-of-run table (per label and total: count, rps,
// errors, min/p50/p90/p95/p99/max), the threshold verdicts, and the one-line progress
// shown every second. Pure functions returning strings; the CLI decides where they go.
import type { EngineStatus } from "./LoadModels.ts"
import type { WindowPoint } from "./RunAggregation.ts"
import type { LabelSummary, RunSummary } from "./Summary.ts"
import { parseThreshold } from "./Thresholds.ts"

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))
const pct = (errors: number, count: number): string => (count === 0 ? "0%" : `${((errors / count) * 100).toFixed(2)}%`)

const row = (l: LabelSummary): Array<string> => [
  l.label === "*" ? "TOTAL" : l.label,
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
    const pct = (s.generatorCpuMs / s.durationMs) * 100
    notes.push(`generator CPU ${pct.toFixed(0)}% of one core${pct > 90 ? " (saturated: latencies include the generator's own queueing)" : ""}`)
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

const clock = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`
}

/**
 * `0:07 / 0:30  users 50  last second: rps 812 p95 12.3 ms  so far: errors 3 (0.04%)`: rps and
 * p95 are of the last closed second, errors cumulative. The open model has no users: it shows
 * the arrivals of the last second and the arrivals in flight.
 */
export const progressLine = (
  elapsedMs: number,
  totalMs: number,
  status: EngineStatus,
  last: WindowPoint | undefined,
  totals: { readonly count: number; readonly errors: number },
  open?: { readonly arrivalsPerSec: number }
): string => {
  const parts = [
    `${clock(Math.min(elapsedMs, totalMs))} / ${clock(totalMs)}`,
    open === undefined ? `users ${status.users}` : `arrivals/s ${open.arrivalsPerSec}  in flight ${status.users}`,
    `last second: rps ${last === undefined ? 0 : Math.round(last.count / (last.durationMs / 1000))} p95 ${last === undefined ? "-" : ms(last.latencyMs.p95)} ms`,
    `so far: errors ${totals.errors} (${pct(totals.errors, totals.count)})`
  ]
  if (status.dropped > 0) parts.push(`dropped ${status.dropped}`)
  return parts.join("  ")
}
