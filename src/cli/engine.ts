// `grid engine <scenario> --results <file>`: the built-in engine as a child process, which
// is how the daemon's `builtin` tool adapter runs it. Every sample goes to `--results` as a
// JMeter 5 CSV JTL (header + 17 default columns), flushed at least twice a second, so the
// daemon's ingestion tails it with the JTL parser it uses for JMeter.
// Exit codes: 0 the run ended (on its own, or stopped by SIGTERM/SIGINT: in-flight requests
// aborted, file flushed and closed), 1 unreachable target or I/O failure, 2 invalid scenario
// (every problem on stderr, nothing sent, no file written), 3 a target the `--allow-target`
// list refuses (before the first request, or at a connect whose address changed).
import { Clock, Console, Duration, Effect, Exit, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { newStatus, runEngine } from "../engine/Engine.ts"
import { JtlWriter } from "../engine/JtlWriter.ts"
import { loadScenario } from "../engine/ScenarioLoader.ts"
import { parseAllowList } from "../engine/TargetAllowList.ts"
import { runBrowserScenario } from "../engine/browser/BrowserEntry.ts"
import { availableCores } from "../engine/Cores.ts"
import { defaultWorkers, usefulWorkers } from "../engine/LoadSplit.ts"
import { parseWorkerFlag } from "../engine/WorkerWire.ts"
import { engineParent, engineWorker } from "./engineWorkers.ts"
import { workerFlagProblems, workerFlags } from "./workerFlags.ts"
import { overrideFlags, overrideProblems, toOverrides } from "./overrides.ts"

export const EXIT_INVALID_SCENARIO = 2
export const EXIT_TARGET_NOT_ALLOWED = 3

export const engineCommand = Command.make(
  "engine",
  {
    scenario: Argument.String("scenario").pipe(Argument.withDescription("Scenario file (YAML or JSON; every field: docs/scenarios.md)")),
    results: Flag.String("results").pipe(Flag.withDescription("JTL (JMeter 5 CSV) file to write every sample to")),
    allowTarget: Flag.String("allow-target").pipe(
      Flag.withDescription("Only send to this host, host:port, IP, CIDR or *.domain (repeatable; the daemon passes its own list)"),
      Flag.atLeast(0)
    ),
    client: Flag.Literals("client", ["lean", "undici"]).pipe(
      Flag.withDescription("HTTP client, over the scenario's `client` (the daemon passes its live flag engine.client)"),
      Flag.optional
    ),
    browserPath: Flag.String("browser-path").pipe(
      Flag.withDescription("Chromium for a browser scenario (default: GRID_BROWSER_PATH, then /usr/bin/chromium and the other usual places)"),
      Flag.optional
    ),
    screenshots: Flag.String("screenshots").pipe(
      Flag.withDescription("Folder for a browser scenario's screenshots (failed steps, screenshot steps); none without it"),
      Flag.optional
    ),
    ...workerFlags,
    worker: Flag.String("worker").pipe(
      Flag.withDescription("Internal: run as worker i of N (i/N) of a parent grid engine or grid run; --results - sends windows on stdout"),
      Flag.optional
    ),
    ...overrideFlags
  },
  Effect.fn(function*({ scenario: file, results, allowTarget, client, browserPath, screenshots, workers, cpuAffinity, onWorkerExit, worker, ...o }) {
    const allow = allowTarget.length === 0 ? undefined : parseAllowList(allowTarget)
    const share = Option.map(worker, parseWorkerFlag)
    const flagProblems = [
      ...overrideProblems(o),
      ...(allow !== undefined && "problems" in allow ? allow.problems.map((p) => `--allow-target ${p}`) : []),
      ...workerFlagProblems({ workers, cpuAffinity, onWorkerExit }),
      ...(Option.isSome(share) && typeof share.value === "string" ? [share.value] : []),
      ...(results === "-" && Option.isNone(worker) ? ["--results -: only for a worker (--worker)"] : [])
    ]
    if (flagProblems.length > 0) {
      yield* Console.error(flagProblems.map((p) => `grid engine: ${p}`).join("\n"))
      process.exitCode = EXIT_INVALID_SCENARIO
      return
    }
    const loaded = yield* Effect.result(loadScenario(file, toOverrides(o)))
    if (loaded._tag === "Failure") {
      yield* Console.error(loaded.failure.message)
      process.exitCode = EXIT_INVALID_SCENARIO
      return
    }
    const scenario = Option.isSome(client) ? { ...loaded.success, client: client.value } : loaded.success
    const allowed = allow !== undefined && "entries" in allow ? allow : undefined
    if (Option.isSome(share) && typeof share.value !== "string") return yield* engineWorker(scenario, share.value, results, allowed)
    const cores = availableCores()
    // A browser scenario runs in this process: its Chromiums are the parallelism.
    const count = scenario.browser !== undefined ? 1 : usefulWorkers(scenario, Option.getOrElse(workers, () => scenario.load.workers ?? defaultWorkers(scenario, cores)))
    if (count > 1) {
      return yield* engineParent({
        file,
        scenario,
        results,
        workers: count,
        overrides: toOverrides(o),
        extraArgs: [...allowTarget.flatMap((t) => ["--allow-target", t]), ...(Option.isSome(client) ? ["--client", client.value] : [])],
        cpuAffinity: cpuAffinity ? { cores } : undefined,
        onWorkerExit
      })
    }
    const status = newStatus()
    const opened = yield* Effect.result(Effect.try({
      try: () => new JtlWriter(results, () => status.users),
      catch: (e) => `cannot write ${results}: ${(e as Error).message}`
    }))
    if (opened._tag === "Failure") {
      yield* Console.error(`grid engine: ${opened.failure}`)
      process.exitCode = 1
      return
    }
    const jtl = opened.success
    const startedAt = yield* Clock.currentTimeMillis
    const ticker = Effect.gen(function*() {
      let last = 0
      while (true) {
        yield* Effect.sleep(Duration.millis(500))
        jtl.flush()
        const now = yield* Clock.currentTimeMillis
        if (now - last >= 1000) {
          last = now
          yield* Console.log(`${((now - startedAt) / 1000).toFixed(0)} s  users ${status.users}  samples ${jtl.written}  dropped ${status.dropped}`)
        }
      }
    })
    yield* Console.log(`grid engine ${file}: ${scenario.load.model} model, ${scenario.durationMs / 1000} s against ${scenario.target.origin}, results in ${results}`)
    const result = yield* Effect.result(
      (scenario.browser !== undefined
        ? runBrowserScenario(scenario, jtl.sink, status, allowed, { path: Option.getOrUndefined(browserPath), screenshotDir: Option.getOrUndefined(screenshots) })
        : runEngine(scenario, jtl.sink, status, allowed)).pipe(
        Effect.raceFirst(Effect.andThen(ticker, Effect.never)),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            jtl.close()
            // A polite stop is a normal end for the daemon: runMain would report 130.
            if (Exit.hasInterrupts(exit)) {
              process.stdout.write(`stopped: ${jtl.written} samples written\n`)
              process.exit(0)
            }
          })
        )
      )
    )
    if (result._tag === "Failure") {
      yield* Console.error(`grid engine: ${result.failure.code === "target_not_allowed" ? "target_not_allowed: " : ""}${result.failure.message}`)
      process.exitCode = result.failure.code === "target_not_allowed" ? EXIT_TARGET_NOT_ALLOWED : 1
      return
    }
    yield* Console.log(`finished: ${jtl.written} samples written`)
  })
).pipe(
  Command.withDescription("Run a built-in engine scenario, writing every sample to a JTL file (the daemon's builtin tool)"),
  Command.withExamples([
    { command: "grid engine scenario.yaml --results out.jtl", description: "Write every sample of a run to a JMeter CSV JTL" },
    { command: "grid engine scenario.yaml --results out.jtl --users 5 --duration 30s", description: "With the load overridden" },
    { command: "grid engine scenario.yaml --results out.jtl --workers 4", description: "Four engine processes, one JTL" }
  ])
)
