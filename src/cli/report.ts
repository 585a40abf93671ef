// `grid report <file> [--format F] [--json] [--html r.html] [--threshold "p95 < 300ms"]...`:
// summarises a result file offline (totals, a per-label table, percentiles from the merged
// HdrHistograms) through the same parsers and windowed aggregation as live ingestion
// (src/ingest/Report.ts, also what `npm run bench` measures). The format is detected from the
// content unless given. Thresholds gate a CI job on a result file from any tool.
// Exit codes: 0 done, 1 the file cannot be read, its format is unknown, no sample was read or
// more bad lines than --max-bad-lines, 99 a threshold breached.
import { writeFileSync } from "node:fs"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { fsProblem } from "../engine/FileProblem.ts"
import { evaluateThresholds, parseThreshold, type Threshold } from "../engine/Thresholds.ts"
import { detectFile, type FileReport, reportFile } from "../ingest/Report.ts"
import { reportDocument, reportDocumentJson } from "../report/Document.ts"
import type { RunSummary } from "../report/Summary.ts"
import { summaryTable, thresholdLines } from "../report/Table.ts"
import { type ResultFormat, resultFormats } from "../ingest/parsers/Parser.ts"
import { reportData, reportHtml } from "../dashboard/ReportData.ts"
import { commandLine, flagsInForce, titleOf } from "./dashboardFlags.ts"
import { outputProblem } from "./overrides.ts"

export const EXIT_ERROR = 1
export const EXIT_THRESHOLDS = 99

/** The human-readable form: a summary line, the one summary table (src/report/Table.ts), bad lines. */
export const renderReport = (r: FileReport, summary: RunSummary = r.summary): string => {
  const lines = [
    `${r.file} (${r.format}): ${summary.total.count} samples, ${summary.total.errors} errors, ` +
    `${r.windowCount} windows of ${r.windowMs} ms; latencies in ms`,
    "",
    summaryTable(summary)
  ]
  if (r.badLines.count > 0) {
    lines.push("", `${r.badLines.count} bad line(s), first ones:`)
    for (const b of r.badLines.first) lines.push(`  line ${b.line}${b.reason !== undefined ? ` (${b.reason})` : ""}: ${b.text}`)
  }
  return lines.join("\n")
}

/** `--max-bad-lines`: `N%` of the records, or a plain count. */
export const parseBadLimit = (text: string): { readonly percent: boolean; readonly value: number } | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text)
  return m === null ? undefined : { percent: m[2] === "%", value: Number(m[1]) }
}

/** The file's summary with `thresholds` evaluated. */
export const withThresholds = (r: FileReport, thresholds: ReadonlyArray<Threshold>): RunSummary => ({
  ...r.summary,
  thresholds: evaluateThresholds(thresholds, r.summary)
})

export const reportCommand = Command.make(
  "report",
  {
    file: Argument.String("file").pipe(Argument.withDescription("Result file to summarise")),
    format: Flag.Literals("format", resultFormats).pipe(
      Flag.withDescription("Result format of the file (default: detected from its content)"),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON"), Flag.withDefault(false)),
    html: Flag.String("html").pipe(Flag.withDescription("Write a self-contained HTML report"), Flag.optional),
    threshold: Flag.String("threshold").pipe(
      Flag.withDescription("A pass/fail threshold, repeatable, e.g. \"p95 < 300ms\", \"errors < 1%\", \"login: rps > 10\" (exit 99 when breached)"),
      Flag.atLeast(0)
    ),
    maxBadLines: Flag.String("max-bad-lines").pipe(
      Flag.withDescription("Fail (exit 1) with more bad lines than this: N% of the records or a count N (default 1%)"),
      Flag.withDefault("1%")
    ),
    windowMs: Flag.Int("window-ms").pipe(Flag.withDescription("Window length in ms (default 1000)"), Flag.withDefault(1000))
  },
  Effect.fn(function*({ file, format, json, html, threshold, maxBadLines, windowMs }) {
    const problems: Array<string> = []
    const thresholds: Array<Threshold> = []
    threshold.forEach((t) => {
      const parsed = parseThreshold(t)
      if (typeof parsed === "string") problems.push(`--threshold ${JSON.stringify(t)}: ${parsed}`)
      else thresholds.push(parsed)
    })
    const limit = parseBadLimit(maxBadLines)
    if (limit === undefined) problems.push(`--max-bad-lines ${JSON.stringify(maxBadLines)}: give a share such as 5% or a count such as 10`)
    if (windowMs < 1) problems.push(`--window-ms ${windowMs}: must be at least 1`)
    const htmlProblem = outputProblem("--html", html)
    if (htmlProblem !== undefined) problems.push(htmlProblem)
    const fail = (lines: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        yield* Console.error(lines.map((l) => `grid report: ${l}`).join("\n"))
        process.exitCode = EXIT_ERROR
      })
    if (problems.length > 0) return yield* fail(problems)

    let chosen: ResultFormat
    let detected: string | undefined
    if (Option.isSome(format)) chosen = format.value
    else {
      const d = yield* Effect.result(Effect.try({ try: () => detectFile(file), catch: (e) => fsProblem(file, e) }))
      if (d._tag === "Failure") return yield* fail([d.failure])
      if ("problem" in d.success && d.success.problem === "the file is empty") return yield* fail([`no sample: ${file} is empty`])
      if ("problem" in d.success) return yield* fail([`cannot tell the format of ${file}: ${d.success.problem}; give --format (${resultFormats.join(", ")})`])
      chosen = d.success.format
      detected = d.success.how
    }
    const result = yield* Effect.result(
      Effect.try({ try: () => reportFile(file, chosen, { windowMs, points: json || Option.isSome(html) }), catch: (e) => fsProblem(file, e) })
    )
    if (result._tag === "Failure") return yield* fail([result.failure])
    const r = result.success
    const summary = withThresholds(r, thresholds)
    const out = json
      ? reportDocumentJson(
        reportDocument("report", summary, r.points, {
          file: r.file,
          format: r.format,
          ...(detected ? { detected } : {}),
          windowMs: r.windowMs,
          badLines: r.badLines
        })
      ).trimEnd()
      : renderReport(r, summary)
    if (detected !== undefined && !json) yield* Console.log(`format ${r.format}, detected: ${detected}`)
    yield* Console.log(out)
    if (thresholds.length > 0 && !json) yield* Console.log(`\nthresholds:\n${thresholdLines(summary)}`)
    if (Option.isSome(html)) {
      const meta = {
        kind: "report" as const,
        title: titleOf(file),
        commandLine: commandLine(),
        flags: flagsInForce({ file, format: r.format, detected, "window-ms": r.windowMs, thresholds: threshold.join("; ") }),
        windowMs: r.windowMs
      }
      const problems = r.badLines.count > 0 ? [`${r.badLines.count} bad line(s) in ${file}`] : []
      writeFileSync(html.value, reportHtml(reportData({ meta, summary, points: r.points, at: summary.startedAt + summary.durationMs, problems })))
    }

    const samples = summary.total.count
    const failures: Array<string> = []
    if (samples === 0) {
      const looks = Option.isSome(format) ? yield* Effect.orElseSucceed(Effect.try(() => detectFile(file)), () => undefined) : undefined
      const hint = looks !== undefined && "format" in looks && looks.format !== chosen ? `; the content looks like ${looks.format} (${looks.how})` : ""
      failures.push(`no sample read from ${file} as ${chosen}${r.badLines.count > 0 ? ` (${r.badLines.count} bad line(s))` : ""}${hint}`)
    } else if (limit !== undefined) {
      const share = (100 * r.badLines.count) / (r.badLines.count + samples)
      const over = limit.percent ? share > limit.value : r.badLines.count > limit.value
      if (over) {
        failures.push(`${r.badLines.count} bad line(s), ${share.toFixed(2)}% of the records: more than --max-bad-lines ${maxBadLines}`)
      }
    }
    if (failures.length > 0) return yield* fail(failures)
    const breached = summary.thresholds.filter((t) => !t.ok).map((t) => t.threshold)
    if (breached.length > 0) {
      yield* Console.error(`thresholds breached: ${breached.join("; ")}`)
      process.exitCode = EXIT_THRESHOLDS
    }
  })
).pipe(
  Command.withDescription("Summarise a result file (JMeter, Locust, k6, Artillery) offline; thresholds gate CI"),
  Command.withExamples([
    { command: "grid report results.jtl", description: "Summarise a JMeter result file (format detected)" },
    { command: "grid report k6.json --threshold \"p95 < 300ms\" --threshold \"errors < 1%\"", description: "Gate a CI job on a k6 result (exit 99 when breached)" },
    { command: "grid report locust_stats_history.csv --format locust --html report.html --max-bad-lines 5%", description: "An HTML report, tolerating 5% bad lines" }
  ])
)
