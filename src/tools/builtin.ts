// Tool `builtin`: grid's own HTTP engine (src/engine/), run as a child process
// `grid engine <scenario> --results <file>` that writes every sample as a JMeter 5 CSV JTL,
// so ingestion follows it with the JMeter parser. `entry` is the scenario among `files`;
// `params` (target, users, rampUpSeconds, durationSeconds, rate) override the scenario's.
// With the docker runner the image is grid's own (Dockerfile), whose entrypoint is `grid`.
// With the inprocess runner (`grid run`'s node) the engine runs inside the node and pushes
// its samples into ingestion: no child, no result file.
// Under the node's allow-list the scenario's hosts are checked before `accepted`
// (`checkTargets`) and the engine checks them again at every connect (`--allow-target`).
// The live flag `engine.client` (src/flags/) picks the engine's HTTP client over the scenario's.
// The engine runs as N workers, one process per core (builtinWorkers.ts): `params.workers`,
// else the scenario's `load.workers`, else the node's `--engine-workers`, else its cores (for a
// run of 10 s or more: a shorter one stays in one engine, LoadSplit.ts defaultWorkers).
import { Effect } from "effect"
import { gridArgv, nodeOptionsEnv } from "../cli/self.ts"
import { commonParams, entryOf, invalid, lastMatching } from "./adapterSupport.ts"
import { inProcessWorkers, scenarioWorkers, toOverrides, workerFlags, workerParams } from "./builtinWorkers.ts"
import type { ToolAdapter } from "./Tool.ts"
import { judgeByExitCode } from "./Tool.ts"

const RESULTS = "grid-results.jtl"
/** `grid engine` exits 2 for a scenario it refused before sending anything. */
const EXIT_INVALID_SCENARIO = 2
/** `grid engine` exits 3 when the allow-list refused a target (at a connect: DNS changed). */
const EXIT_TARGET_NOT_ALLOWED = 3

export const builtinTool: ToolAdapter = {
  name: "builtin",
  defaultImage: "grid:latest",
  available: () => Effect.succeed(true),
  plan: (ctx) =>
    Effect.gen(function*() {
      const entry = yield* entryOf(ctx, "scenario (YAML or JSON)")
      const p = yield* commonParams(ctx)
      const wp = workerParams(ctx.command.params ?? {})
      if (typeof wp === "string") return yield* invalid(wp)
      const overrides = [
        ...(p.target !== undefined ? ["--target", p.target.href.replace(/\/$/, "")] : []),
        ...(p.users !== undefined ? ["--users", String(p.users)] : []),
        ...(p.rampUpSeconds !== undefined ? ["--ramp-up", String(p.rampUpSeconds)] : []),
        ...(p.durationSeconds !== undefined ? ["--duration", String(p.durationSeconds)] : []),
        ...(p.rate !== undefined ? ["--rate", String(p.rate)] : []),
        ...(ctx.allowTargets ?? []).flatMap((t) => ["--allow-target", t]),
        ...(ctx.engineClient !== undefined ? ["--client", ctx.engineClient] : [])
      ]
      if (ctx.runner === "inprocess") {
        // The engine's live counters: `grid run`'s progress line reads them when it is the node.
        const status = ctx.local?.status ?? { users: 0, dropped: 0, arrivals: 0 }
        const scenarioFile = `${ctx.toolWorkDir}/${entry}`
        return {
          argv: [],
          env: {},
          results: "push",
          inProcess: (io) =>
            // Imported here, not at the top: the engine (undici among it) and the YAML loader
            // are for `grid run` only, and a daemon would otherwise load them at every start.
            Effect.promise(() => Promise.all([import("../engine/Engine.ts"), import("../engine/ScenarioLoader.ts"), import("../engine/TargetAllowList.ts"), import("../engine/LoadSplit.ts"), import("../engine/Cores.ts"), import("../engine/browser/BrowserEntry.ts")])).pipe(
              Effect.flatMap(([{ runEngine }, { loadScenario }, { parseAllowList }, { defaultWorkers, usefulWorkers }, { availableCores }, { runBrowserScenario }]) =>
                loadScenario(scenarioFile, {
                  target: p.target?.href.replace(/\/$/, ""),
                  users: p.users,
                  rampUpSeconds: p.rampUpSeconds,
                  durationSeconds: p.durationSeconds,
                  rate: p.rate
                }).pipe(Effect.flatMap((loaded) => {
                  // The live flag `engine.client` is over the scenario's own choice.
                  const scenario = ctx.engineClient === undefined ? loaded : { ...loaded, client: ctx.engineClient }
                  if (scenario.browser !== undefined) {
                    // In this process: the Chromiums are the parallelism. Its Chromium is `grid run
                    // --browser-path`, the live flag, then GRID_BROWSER_PATH; its screenshots go to the
                    // work directory's `screenshots/`, which the node keeps (TestArtifacts.ts).
                    const allow = ctx.allowTargets === undefined ? undefined : parseAllowList(ctx.allowTargets)
                    const path = ctx.local?.browserPath ?? ctx.browserPath
                    return runBrowserScenario(scenario, io.sink, status, allow !== undefined && "entries" in allow ? allow : undefined, {
                      ...(path !== undefined ? { path } : {}),
                      screenshotDir: `${ctx.workDir}/screenshots`
                    }).pipe(Effect.as(0))
                  }
                  // Several workers (params.workers, load.workers, the node's --engine-workers, its
                  // cores): each a process of its own, their windows merged into this sink.
                  const cores = availableCores()
                  const workers = usefulWorkers(scenario, wp.workers ?? scenario.load.workers ?? ctx.engineWorkers ?? defaultWorkers(scenario, cores))
                  if (workers > 1) {
                    return inProcessWorkers({
                      scenarioFile,
                      count: workers,
                      overrides: toOverrides(p),
                      allowTargets: ctx.allowTargets,
                      client: ctx.engineClient,
                      status,
                      cpuAffinity: wp.cpuAffinity ? { cores } : undefined,
                      onWorkerExit: wp.onWorkerExit
                    })(io)
                  }
                  const allow = ctx.allowTargets === undefined ? undefined : parseAllowList(ctx.allowTargets)
                  return runEngine(scenario, io.sink, status, allow !== undefined && "entries" in allow ? allow : undefined).pipe(Effect.as(0))
                }))
              ),
              Effect.catchTag("ScenarioError", (e) => Effect.sync(() => (io.log("stderr", e.message), EXIT_INVALID_SCENARIO))),
              Effect.catch((e) => Effect.sync(() =>
                e.code === "target_not_allowed"
                  ? (io.log("stderr", `grid engine: target_not_allowed: ${e.message}`), EXIT_TARGET_NOT_ALLOWED)
                  : (io.log("stderr", `grid engine: ${e.message}`), 1)
              ))
            )
        }
      }
      // The node's default yields to the scenario's own `load.workers`, which grid engine reads.
      const own = wp.workers === undefined && ctx.engineWorkers !== undefined ? yield* scenarioWorkers(`${ctx.workDir}/${entry}`) : undefined
      const workers = workerFlags(wp, own === undefined ? ctx.engineWorkers : undefined, undefined)
      const args = ["engine", `${ctx.toolWorkDir}/${entry}`, "--results", `${ctx.toolWorkDir}/${RESULTS}`, ...overrides, ...workers, ...p.extraArgs]
      return {
        // grid itself runs the engine (dist/grid, or this Node with grid's script: never a `node`
        // from PATH); in a container the image's entrypoint is grid. A small young generation
        // keeps the engine's RSS flat at full speed (measured: 162 MB instead of 211 MB over
        // 25 s at 62k req/s, same throughput).
        argv: ctx.runner === "docker" ? args : [...gridArgv(), ...args],
        // A browser scenario's screenshots stay in the test's work directory (`screenshots/`); its
        // Chromium is the live flag tools.browser.path when set.
        env: { ...(ctx.runner === "docker" ? {} : nodeOptionsEnv(["--max-semi-space-size=4"])), GRID_BROWSER_SCREENSHOTS: `${ctx.toolWorkDir}/screenshots`, ...(ctx.browserPath !== undefined ? { GRID_BROWSER_PATH: ctx.browserPath } : {}), ...ctx.command.env },
        // `grid engine` flushes its JTL twice a second: 800 ms keeps a launch's live view
        // within about a second of the test (a response slower than that counts a window later).
        results: { path: `${ctx.workDir}/${RESULTS}`, format: "jmeter", lateMs: 800 }
      }
    }),
  checkTargets: (ctx, allow) =>
    Effect.gen(function*() {
      const entry = yield* entryOf(ctx, "scenario (YAML or JSON)")
      const p = yield* commonParams(ctx)
      const [{ loadScenario }, { checkScenario }] = yield* Effect.promise(() =>
        Promise.all([import("../engine/ScenarioLoader.ts"), import("../engine/TargetAllowList.ts")])
      )
      const loaded = yield* Effect.result(loadScenario(`${ctx.workDir}/${entry}`, {
        target: p.target?.href.replace(/\/$/, ""),
        users: p.users,
        rampUpSeconds: p.rampUpSeconds,
        durationSeconds: p.durationSeconds,
        rate: p.rate
      }))
      // An invalid scenario is the engine's to report (`invalid_scenario`, every problem).
      if (loaded._tag === "Failure") return undefined
      return yield* checkScenario(allow, loaded.success)
    }),
  judge: (outcome) => {
    if (outcome.exit.exitCode === EXIT_TARGET_NOT_ALLOWED) {
      return { code: "target_not_allowed", message: lastMatching(outcome.logTail, /target_not_allowed/)?.replace(/^\[std(out|err)\] grid engine: /, "") ?? "a target is not allowed on this node" }
    }
    if (outcome.exit.exitCode === EXIT_INVALID_SCENARIO) {
      return {
        code: "invalid_scenario",
        message: outcome.logTail.filter((l) => l.startsWith("[stderr]")).map((l) => l.slice(9)).join("\n") || "the scenario was refused"
      }
    }
    const failed = judgeByExitCode(outcome)
    if (failed) {
      const reason = lastMatching(outcome.logTail, /grid engine:/)
      return reason ? { code: "tool_failed", message: reason.replace(/^\[std(out|err)\] /, "") } : failed
    }
    return undefined
  }
}
