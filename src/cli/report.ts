// `grid report <file> --format jmeter|jmeter-xml|locust|locust-hook|k6|artillery [--json]`:
// summarises a result file offline (totals, a per-label table, percentiles from the merged
// HdrHistograms) through the same parsers and windowed aggregation as live ingestion
// (src/ingest/Report.ts, also what `npm run bench` measures). Exit codes: 0 done (bad lines are
// reported, not fatal), 1 the file cannot be read.
import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { type FileReport, reportFile } from "../ingest/Report.ts"
import { resultFormats } from "../ingest/parsers/Parser.ts"

const fmt = (n: number, digits = 1) => (Number.isInteger(n) ? String(n) : n.toFixed(digits))

/** The human-readable form: a summary line, the per-label table, bad lines. */
export const renderReport = (r: FileReport): string => {
  const rows = [
    ["label", "count", "errors", "err%", "rps", "min", "mean", "p50", "p90", "p95", "p99", "max", "bytes in", "bytes out"],
    ...r.labels.map((l) => [
      JSON.stringify(l.label).slice(1, -1),
      String(l.count),
      String(l.errors),
      l.errorPct.toFixed(2),
      fmt(l.rps),
      fmt(l.latencyMs.min),
      fmt(l.latencyMs.mean),
      fmt(l.latencyMs.p50),
      fmt(l.latencyMs.p90),
      fmt(l.latencyMs.p95),
      fmt(l.latencyMs.p99),
      fmt(l.latencyMs.max),
      String(l.bytesIn),
      String(l.bytesOut)
    ])
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const table = rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "))
  const all = r.labels.find((l) => l.label === "*")
  const lines = [
    `${r.file} (${r.format}): ${all?.count ?? 0} samples, ${all?.errors ?? 0} errors, ${(r.durationMs / 1000).toFixed(1)} s, ` +
    `${r.windows} windows of ${r.windowMs} ms; latencies in ms`,
    "",
    ...table
  ]
  const statuses = all === undefined ? [] : Object.entries(all.status)
  if (statuses.length > 0) lines.push("", `status: ${statuses.map(([k, v]) => `${k || "(none)"}=${v}`).join("  ")}`)
  if (r.badLines.count > 0) {
    lines.push("", `${r.badLines.count} bad line(s), first ones:`)
    for (const b of r.badLines.first) lines.push(`  line ${b.line}: ${b.text}`)
  }
  return lines.join("\n")
}

export const reportCommand = Command.make(
  "report",
  {
    file: Argument.String("file").pipe(Argument.withDescription("Result file to summarise")),
    format: Flag.Literals("format", resultFormats).pipe(Flag.withDescription("Result format of the file")),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false)),
    windowMs: Flag.Int("window-ms").pipe(Flag.withDescription("Window length in ms"), Flag.withDefault(1000))
  },
  Effect.fn(function*({ file, format, json, windowMs }) {
    const result = yield* Effect.result(
      Effect.try({ try: () => reportFile(file, format, { windowMs }), catch: (e) => (e as Error).message })
    )
    if (result._tag === "Failure") {
      yield* Console.error(`grid report: cannot read ${file}: ${result.failure}`)
      process.exitCode = 1
      return
    }
    yield* Console.log(json ? JSON.stringify(result.success, null, 2) : renderReport(result.success))
  })
).pipe(Command.withDescription("Summarise a result file (JMeter, Locust, k6, Artillery) offline"))
