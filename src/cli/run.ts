// `grid run <scenario> [--out summary.json] [--html report.html]`: runs a built-in engine
// scenario in this process, samples through the ingestion aggregation, a progress line per
// second (rewritten in place on a terminal, plain lines otherwise), then the summary table,
// thresholds and exit code. Ctrl-C aborts in-flight requests and still prints and writes
// the summary (from a finalizer), exiting 130.
// Exit codes: 0 ok, 1 invalid scenario or unreachable target, 99 a threshold breached,
// 130 interrupted.
import { writeFileSync } from "node:fs"
import { Clock, Console, Duration, Effect, Exit, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { EngineError, newStatus, runEngine } from "../engine/Engine.ts"
import { htmlReport } from "../engine/HtmlReport.ts"
import { RunAggregation } from "../engine/RunAggregation.ts"
import type { ScenarioOverrides } from "../engine/Scenario.ts"
import { loadScenario } from "../engine/ScenarioLoader.ts"
import type { RunSummary } from "../engine/Summary.ts"
import { progressLine, summaryTable, thresholdLines } from "../engine/SummaryTable.ts"
import { evaluateThresholds } from "../engine/Thresholds.ts"

/** Overrides shared by `grid run` and `grid engine` (the protocol's `params`). */
export const overrideFlags = {
  target: Flag.String("target").pipe(Flag.withDescription("Base URL, replaces the scenario's `target`"), Flag.optional),
  users: Flag.Int("users").pipe(Flag.withDescription("Closed model: virtual users"), Flag.optional),
  rampUp: Flag.Finite("ramp-up").pipe(Flag.withDescription("Closed model: ramp-up seconds"), Flag.optional),
  duration: Flag.Finite("duration").pipe(Flag.withDescription("Run length in seconds"), Flag.optional),
  rate: Flag.Finite("rate").pipe(Flag.withDescription("Open model: arrivals per second"), Flag.optional)
}

type OverrideValues = { readonly [K in keyof typeof overrideFlags]: Option.Option<K extends "target" ? string : number> }

export const toOverrides = (o: OverrideValues): ScenarioOverrides => ({
  target: Option.getOrUndefined(o.target),
  users: Option.getOrUndefined(o.users),
  rampUpSeconds: Option.getOrUndefined(o.rampUp),
  durationSeconds: Option.getOrUndefined(o.duration),
  rate: Option.getOrUndefined(o.rate)
})

export const EXIT_ERROR = 1
export const EXIT_THRESHOLDS = 99

const writeOutputs = (summary: RunSummary, agg: RunAggregation, out: Option.Option<string>, html: Option.Option<string>, title: string) => {
  if (Option.isSome(out)) writeFileSync(out.value, `${JSON.stringify({ ...summary, windows: agg.points }, null, 2)}\n`)
  if (Option.isSome(html)) writeFileSync(html.value, htmlReport(title, summary, agg.points))
}

export const runCommand = Command.make(
  "run",
  {
    scenario: Argument.String("scenario").pipe(Argument.withDescription("Scenario file (YAML or JSON)")),
    out: Flag.String("out").pipe(Flag.withDescription("Write the summary (and per-second windows) as JSON"), Flag.optional),
    html: Flag.String("html").pipe(Flag.withDescription("Write a self-contained HTML report"), Flag.optional),
    ...overrideFlags
  },
  Effect.fn(function*({ scenario: file, out, html, ...o }) {
    const loaded = yield* Effect.result(loadScenario(file, toOverrides(o)))
    if (loaded._tag === "Failure") {
      yield* Console.error(loaded.failure.message)
      process.exitCode = EXIT_ERROR
      return
    }
    const scenario = loaded.success
    const tty = process.stdout.isTTY === true
    const startedAt = yield* Clock.currentTimeMillis
    const cpuAtStart = process.cpuUsage()
    const agg = new RunAggregation(startedAt)
    const status = newStatus()
    let started = false

    const progress = Effect.gen(function*() {
      for (let k = 1; ; k++) {
        // Just after window k-1 has closed (RunAggregation keeps it open 250 ms for stragglers).
        const wait = startedAt + k * 1000 + 300 - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        const now = yield* Clock.currentTimeMillis
        agg.tick(now)
        const line = progressLine(now - startedAt, scenario.durationMs, status, agg.points.at(-1), agg.closedCount)
        process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`)
      }
    })

    const finish = (interrupted: boolean) =>
      Effect.gen(function*() {
        const endedAt = yield* Clock.currentTimeMillis
        if (tty) process.stdout.write("\n")
        const base = agg.finish(endedAt, status.dropped, interrupted)
        const cpu = process.cpuUsage(cpuAtStart)
        const summary: RunSummary = {
          ...base,
          thresholds: evaluateThresholds(scenario.thresholds, base),
          generatorCpuMs: Math.round((cpu.user + cpu.system) / 1000)
        }
        const lines = [summaryTable(summary)]
        if (summary.thresholds.length > 0) lines.push("", "thresholds:", thresholdLines(summary))
        yield* Console.log(`\n${lines.join("\n")}`)
        writeOutputs(summary, agg, out, html, `grid run ${file}`)
        const breached = summary.thresholds.filter((t) => !t.ok).map((t) => t.threshold)
        if (breached.length > 0) {
          yield* Console.error(`thresholds breached: ${breached.join("; ")}`)
          process.exitCode = EXIT_THRESHOLDS
        }
      })

    yield* Console.log(`grid run ${file}: ${scenario.load.model} model, ${(scenario.durationMs / 1000).toFixed(0)} s against ${scenario.target.origin}`)
    const result = yield* Effect.result(
      runEngine(scenario, (s) => {
        started = true
        agg.sink(s)
      }, status).pipe(
        Effect.raceFirst(Effect.andThen(progress, Effect.never)),
        Effect.onExit((exit) => (Exit.hasInterrupts(exit) || Exit.isSuccess(exit) ? finish(Exit.hasInterrupts(exit)) : Effect.void))
      )
    )
    if (result._tag === "Failure") {
      const e = result.failure
      yield* Console.error(e instanceof EngineError ? `grid run: ${e.message}` : String(e))
      if (started) yield* finish(false)
      process.exitCode = EXIT_ERROR
    }
  })
).pipe(Command.withDescription("Run a built-in engine scenario on this machine and print its summary"))

