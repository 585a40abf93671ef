// `grid run <scenario> [--out summary.json] [--html report.html]`: a load test on this machine
// through the daemon's own runner and ingestion (src/daemon/LocalNode.ts: control listener,
// test manager, push-mode ingestion) on an in-memory bus instead of NATS. The engine runs
// in-process (the inprocess runner); the result windows the node publishes feed the live
// progress line (one per window as it closes, rewritten in place on a terminal, plain lines
// otherwise) and the summary table, thresholds and exit code (src/report/NodeWindows.ts). Ctrl-C
// stops the test like a daemon shutdown (in-flight requests aborted) and still prints and
// writes the summary, exiting 130. `--out` also holds the runner's terminal event (`node`).
// Every flag is checked before anything starts; `--out -` writes the JSON to stdout (the
// human-readable output then goes to stderr); log lines only with `--verbose`.
// A browser scenario's screenshots (failed steps, `screenshot:` steps) are kept in
// ./grid-artifacts/<testId>/ and the folder is printed at the end when there are any.
// Exit codes: 0 ok, 1 invalid flag or scenario or unreachable target, 99 a threshold
// breached, 130 interrupted.
import { readFileSync, writeFileSync } from "node:fs"
import { basename, dirname, isAbsolute, join } from "node:path"
import { parse as parseYaml } from "yaml"
import { Clock, Console, Duration, Effect, FileSystem, Option, References, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { defaultSettings } from "../daemon/DaemonConfig.ts"
import { localNode } from "../daemon/LocalNode.ts"
import { ArtifactStore } from "../runner/ArtifactStore.ts"
import { newStatus } from "../engine/Engine.ts"
import type { MemoryTransport } from "../ingest/ResultTransport.ts"
import type { GridEvent } from "../protocol/events.ts"
import type { ScenarioOverrides } from "../engine/Scenario.ts"
import { loadScenario } from "../engine/ScenarioLoader.ts"
import { fsProblem } from "../engine/FileProblem.ts"
import { progressLine } from "../engine/SummaryTable.ts"
import { reportDocument, reportDocumentJson } from "../report/Document.ts"
import { NodeWindows } from "../report/NodeWindows.ts"
import type { RunSummary } from "../report/Summary.ts"
import { summaryTable, thresholdLines } from "../report/Table.ts"
import { evaluateThresholds } from "../engine/Thresholds.ts"
import { outputProblem, overrideFlags, overrideProblems, toOverrides } from "./overrides.ts"
import { httpAddrFlag, httpLingerFlag, serveMetrics } from "./runHttpFlags.ts"
import { DashboardFeed } from "../dashboard/Feed.ts"
import type { DashboardMeta } from "../dashboard/Model.ts"
import { reportData, reportHtml } from "../dashboard/ReportData.ts"
import { runSource } from "../dashboard/Sources.ts"
import { commandLine, dashboardFlag, flagsInForce, serveFeed, titleOf } from "./dashboardFlags.ts"
import { workerFlagProblems, workerFlags, workerParamsOf } from "./workerFlags.ts"

export { overrideFlags, toOverrides }

export const EXIT_ERROR = 1
/** Where `grid run` keeps a test's screenshots: `<this folder>/<testId>/`, below the current one. */
export const RUN_ARTIFACTS = "grid-artifacts"
export const EXIT_THRESHOLDS = 99

const writeOutputs = (
  summary: RunSummary,
  view: NodeWindows,
  out: Option.Option<string>,
  html: Option.Option<string>,
  htmlText: () => string,
  node: GridEvent | undefined
) => {
  // `node`: the runner's own terminal event (ingestion's summary, cleanup report), as a daemon
  // would have published it.
  const json = reportDocumentJson(reportDocument("run", summary, view.points, node === undefined ? {} : { node }))
  if (Option.isSome(out)) out.value === "-" ? process.stdout.write(json) : writeFileSync(out.value, json)
  if (Option.isSome(html)) writeFileSync(html.value, htmlText())
}

export const runCommand = Command.make(
  "run",
  {
    scenario: Argument.String("scenario").pipe(Argument.withDescription("Scenario file (YAML or JSON; every field: docs/scenarios.md)")),
    out: Flag.String("out").pipe(Flag.withDescription("Write the summary (and per-second windows) as JSON; - for stdout"), Flag.optional),
    html: Flag.String("html").pipe(Flag.withDescription("Write a self-contained HTML report"), Flag.optional),
    verbose: Flag.Boolean("verbose").pipe(Flag.withDescription("Also print the node's log lines"), Flag.withDefault(false)),
    httpAddr: httpAddrFlag,
    httpLinger: httpLingerFlag,
    dashboard: dashboardFlag,
    browserPath: Flag.String("browser-path").pipe(
      Flag.withDescription("Chromium for a browser scenario (default: GRID_BROWSER_PATH, then /usr/bin/chromium and the other usual places)"),
      Flag.optional
    ),
    ...workerFlags,
    ...overrideFlags
  },
  Effect.fn(function*({ scenario: file, out, html, verbose, httpAddr, httpLinger, dashboard, browserPath, workers, cpuAffinity, onWorkerExit, ...o }) {
    const flagProblems = [
      ...overrideProblems(o),
      ...workerFlagProblems({ workers, cpuAffinity, onWorkerExit }),
      outputProblem("--out", out),
      outputProblem("--html", html)
    ].filter((p) => p !== undefined)
    if (flagProblems.length > 0) {
      yield* Console.error(flagProblems.map((p) => `grid run: ${p}`).join("\n"))
      process.exitCode = EXIT_ERROR
      return
    }
    const loaded = yield* Effect.result(loadScenario(file, toOverrides(o)))
    if (loaded._tag === "Failure") {
      yield* Console.error(loaded.failure.message)
      process.exitCode = EXIT_ERROR
      return
    }
    const scenario = loaded.success
    // With `--out -` stdout carries the JSON alone: everything else goes to stderr.
    const toStdout = !(Option.isSome(out) && out.value === "-")
    const say = (line: string) => (toStdout ? Console.log(line) : Console.error(line))
    const stream = toStdout ? process.stdout : process.stderr
    const tty = stream.isTTY === true
    const open = scenario.load.model === "open"
    let arrivalsBefore = 0
    let arrivalsAt = 0
    /** Open model: arrivals per second since the previous line. */
    const arrivalRate = (now: number) => {
      const rate = Math.round((status.arrivals - arrivalsBefore) / Math.max(0.001, (now - arrivalsAt) / 1000))
      arrivalsBefore = status.arrivals
      arrivalsAt = now
      return rate
    }
    const startedAt = yield* Clock.currentTimeMillis
    arrivalsAt = startedAt
    const cpuAtStart = process.cpuUsage()
    // `--http-addr`: the run's figures for Prometheus, fed with the windows the live line reads.
    const metrics = Option.isSome(httpAddr) ? new (yield* Effect.promise(() => import("../report/RunMetrics.ts"))).RunMetrics("run") : undefined
    const view = new NodeWindows(metrics === undefined ? undefined : (w) => metrics.add(w))
    const status = newStatus()
    let terminal: GridEvent | undefined = undefined
    /** The node's result windows, once it is up (LocalNode's memory transport). */
    let published = undefined as MemoryTransport | undefined
    const elapsed = (now: number) => now - (view.firstStart ?? startedAt)
    // The page's (and the HTML report's) view of the run: the same windows, the load sampled
    // as each arrives.
    const order = scenario.requests.map((r) => r.name)
    const load = scenario.load
    const meta: DashboardMeta = {
      kind: "run",
      title: titleOf(file, scenario.file.name),
      commandLine: commandLine(),
      flags: flagsInForce({
        scenario: file,
        target: scenario.target.origin,
        model: load.model,
        users: load.model === "closed" ? load.users : undefined,
        "ramp-up": load.model === "closed" && load.rampUpSeconds !== undefined ? `${load.rampUpSeconds}s` : undefined,
        rate: load.model === "open" && load.rate !== undefined ? `${load.rate}/s` : undefined,
        stages: load.stages === undefined ? undefined : load.stages.length,
        duration: `${scenario.durationMs / 1000}s`,
        timeout: `${scenario.timeoutMs / 1000}s`,
        client: scenario.client,
        thresholds: scenario.thresholds.map((t) => t.source).join("; ")
      }),
      plannedMs: scenario.durationMs,
      load: open ? "arrivals" : "users",
      target: scenario.target.origin,
      windowMs: 1000
    }
    const feed = new DashboardFeed(meta, runSource({ view, status, open, order, thresholds: scenario.thresholds, startedAt }))

    // A line per window the node published, read as it closes (500 ms after its end, the
    // push path's lateness); a quiet second (no window) still moves the clock on.
    const progress = Effect.gen(function*() {
      let lineAt = startedAt
      for (;;) {
        yield* Effect.sleep(Duration.millis(100))
        const now = yield* Clock.currentTimeMillis
        const added = published === undefined ? 0 : view.update(published.windows)
        if (added > 0) feed.sampleLoad(now)
        if (added === 0 && (view.firstStart === undefined || now - lineAt < 1200)) continue
        lineAt = now
        const line = progressLine(elapsed(now), scenario.durationMs, status, view.points.at(-1), view.soFar, open ? { arrivalsPerSec: arrivalRate(now) } : undefined)
        stream.write(tty ? `\r\x1b[2K${line}` : `${line}\n`)
      }
    })

    const finish = (interrupted: boolean) =>
      Effect.gen(function*() {
        // The node has stopped the test by now: its final window is among those published.
        if (published !== undefined) view.update(published.windows)
        // The run ended when the node's ingestion did (its summary's duration counts from window
        // 0), not after the node's cleanup; without that figure (Ctrl-C), now.
        const nodeSummary = terminal !== undefined && "summary" in terminal ? terminal.summary : null
        const endedAt = nodeSummary != null && view.firstStart !== undefined
          ? view.firstStart + nodeSummary.durationMs
          : yield* Clock.currentTimeMillis
        feed.sampleLoad(endedAt)
        const base = view.summary({ endedAt, fallbackStart: startedAt, order, dropped: status.dropped, interrupted })
        // The last line covers the whole run: its end, the last (partial) second, all errors.
        const last = progressLine(Math.round(elapsed(endedAt) / 1000) * 1000, scenario.durationMs, status, view.points.at(-1), base.total, open ? { arrivalsPerSec: arrivalRate(endedAt) } : undefined)
        stream.write(tty ? `\r\x1b[2K${last}\n` : `${last}\n`)
        const cpu = process.cpuUsage(cpuAtStart)
        const summary: RunSummary = {
          ...base,
          thresholds: evaluateThresholds(scenario.thresholds, base),
          // The engine's worker processes' CPU too, when it ran as several.
          generatorCpuMs: Math.round((cpu.user + cpu.system) / 1000) + (status.workerCpuMs ?? 0)
        }
        const lines = [summaryTable(summary)]
        if (summary.thresholds.length > 0) lines.push("", "thresholds:", thresholdLines(summary))
        yield* say(`\n${lines.join("\n")}`)
        const problems = terminal !== undefined && terminal.kind !== "finished" ? [terminalProblem(terminal)] : []
        feed.finish(view.points, { summary, nodes: [], problems }, endedAt)
        const htmlText = () => reportHtml(reportData({ meta, summary, points: view.points, at: endedAt, load: feed.load, problems }))
        writeOutputs(summary, view, out, html, htmlText, terminal)
        const breached = summary.thresholds.filter((t) => !t.ok).map((t) => t.threshold)
        if (breached.length > 0) {
          yield* Console.error(`thresholds breached: ${breached.join("; ")}`)
          process.exitCode = EXIT_THRESHOLDS
        }
      })

    const http = metrics === undefined ? undefined : yield* Effect.result(serveMetrics(httpAddr, metrics))
    if (http?._tag === "Failure") {
      yield* Console.error(`grid run: ${http.failure.message}`)
      process.exitCode = EXIT_ERROR
      return
    }
    const lingerMetrics = http === undefined ? Effect.void : http.success.lingerForScrape(Option.getOrElse(httpLinger, () => Duration.zero))
    if (http !== undefined) yield* say(`serving /metrics and /healthz on ${http.success.url}`)
    const page = Option.isSome(dashboard) ? yield* Effect.result(serveFeed(dashboard.value, feed)) : undefined
    if (page?._tag === "Failure") {
      yield* Console.error(`grid run: ${page.failure.message}`)
      process.exitCode = EXIT_ERROR
      return
    }
    if (page !== undefined) yield* say(`dashboard: ${page.success.url}`)
    // Open pages are sent the final figures before the server closes (at most 5 s).
    const linger = Effect.andThen(page === undefined ? Effect.void : page.success.drain(Duration.seconds(5)), lingerMetrics)
    yield* say(`grid run ${file}: ${scenario.load.model} model, ${(scenario.durationMs / 1000).toFixed(0)} s against ${scenario.target.origin}`)
    // The same runner and ingestion as a daemon, on an in-memory bus: the scenario (and its
    // data file) travel in a `start` command; the engine runs in-process, pushes its samples
    // into the node's ingestion, and this command reads the windows the node publishes.
    const files = yield* scenarioFiles(file)
    const run = Effect.gen(function*() {
      // Acquired first, so removed last: after the node has stopped the test.
      const workDir = yield* FileSystem.FileSystem.pipe(Effect.flatMap((fs) => fs.makeTempDirectoryScoped({ prefix: "grid-run-" })))
      const settings = defaultSettings({ nodeId: "local", workDir, stopGrace: Duration.seconds(5) })
      const node = yield* localNode(settings, { status, browserPath: Option.getOrUndefined(browserPath) }, ArtifactStore.directory(RUN_ARTIFACTS))
      published = node.results
      yield* node.send({
        kind: "start",
        commandId: `run-${startedAt}`,
        testId: `run-${startedAt}`,
        tool: "builtin",
        entry: files[0]!.path,
        files,
        params: { ...paramsOf(toOverrides(o)), ...workerParamsOf({ workers, cpuAffinity, onWorkerExit }) }
      })
      const end = yield* node.events.pipe(
        Stream.filter((e) => e.kind === "rejected" || e.kind === "finished" || e.kind === "failed" || e.kind === "stopped"),
        Stream.runHead
      )
      terminal = Option.getOrUndefined(end)
      return terminal
    }).pipe(
      Effect.scoped,
      Effect.raceFirst(Effect.andThen(progress, Effect.never)),
      Effect.onInterrupt(() => finish(true)),
      // The node's own log lines (listening for commands ...) are not part of a run's output.
      (e) => (verbose ? e : Effect.provideService(e, References.MinimumLogLevel, "Warn"))
    )
    const end = yield* run
    const kept = end !== undefined && end.kind !== "rejected" && "artifacts" in end ? end.artifacts ?? [] : []
    if (kept.length > 0) yield* say(`screenshots: ${kept.length} in ${join(RUN_ARTIFACTS, `run-${startedAt}`)}/`)
    if (end?.kind === "finished") {
      yield* finish(false)
      return yield* linger
    }
    const problem = end === undefined ? "the run ended without a result" : terminalProblem(end)
    yield* Console.error(problem.startsWith("grid engine: ") ? `grid run: ${problem.slice(13)}` : `grid run: ${problem}`)
    if (published !== undefined && published.windows.length > 0) yield* finish(false)
    else feed.finish([], { summary: view.totals.summary({ startedAt, durationMs: 1, order }), nodes: [], problems: [problem] }, yield* Clock.currentTimeMillis)
    process.exitCode = EXIT_ERROR
    yield* linger
  }, Effect.scoped)
).pipe(
  Command.withDescription("Run a built-in engine scenario on this machine and print its summary"),
  Command.withExamples([
    { command: "grid run examples/quickstart.yaml", description: "Run a scenario, print progress and the summary" },
    { command: "grid run scenario.yaml --users 50 --duration 2m --html report.html", description: "Closed model, 50 users for 2 minutes, HTML report" },
    { command: "grid run scenario.yaml --rate 200 --duration 30s --out - > summary.json", description: "Open model at 200 arrivals/s, JSON on stdout" },
    { command: "grid run scenario.yaml --dashboard", description: "Watch it live in the browser (the URL is printed; --dashboard=8089 for a fixed port)" }
  ])
)

/** The scenario as a `start` command's files: the scenario itself (as JSON), and its data file
 * under a fixed name, since its path was relative to the scenario's folder. */
const scenarioFiles = (file: string) =>
  Effect.try({
    try: () => {
      const raw = parseYaml(readFileSync(file, "utf8")) as Record<string, unknown>
      const data = raw.data as { file?: unknown } | undefined
      if (data === undefined || typeof data.file !== "string") {
        return [{ path: "scenario.json", content: JSON.stringify(raw) }]
      }
      const source = isAbsolute(data.file) ? data.file : join(dirname(file), data.file)
      const name = `data-${basename(source).replace(/[^A-Za-z0-9._-]/g, "_")}`
      return [
        { path: "scenario.json", content: JSON.stringify({ ...raw, data: { ...data, file: name } }) },
        { path: name, content: readFileSync(source).toString("base64"), encoding: "base64" as const }
      ]
    },
    catch: (e) => new Error(fsProblem((e as { path?: string }).path ?? file, e))
  }).pipe(Effect.orDie)

/** Why a run's node ended without finishing. */
const terminalProblem = (end: GridEvent): string =>
  end.kind === "failed" ? end.error.message : end.kind === "rejected" ? end.message : end.kind === "stopped" ? `stopped: ${end.reason}` : end.kind

/** Command-line overrides as the protocol's `params`. */
const paramsOf = (o: ScenarioOverrides): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
