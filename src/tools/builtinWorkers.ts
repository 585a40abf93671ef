// The builtin tool's engine workers when `grid run` is the node (the inprocess runner): instead
// of running the engine on the node's own event loop, N `grid engine --worker i/N --results -`
// processes share the load (src/engine/WorkerPool.ts) and send their windows' rows, which go
// into the test's push-mode ingestion sink as merged samples: the same windows, summary and
// thresholds as one in-process engine, from merged histograms. One worker is today's engine,
// in-process, with no child at all.
import { readFileSync } from "node:fs"
import { Effect } from "effect"
import { gridArgv, nodeOptionsEnv } from "../cli/self.ts"
import type { EngineStatus } from "../engine/LoadModels.ts"
import type { ScenarioOverrides } from "../engine/Scenario.ts"
import { workerArgs } from "../engine/WorkerArgs.ts"
import type { CommonParams } from "./adapterSupport.ts"
import type { InProcessRun } from "./Tool.ts"

export interface InProcessWorkers {
  readonly scenarioFile: string
  readonly count: number
  readonly overrides: ScenarioOverrides
  readonly allowTargets: ReadonlyArray<string> | undefined
  readonly client: "lean" | "undici" | undefined
  readonly status: EngineStatus
  readonly cpuAffinity: { readonly cores: number } | undefined
  readonly onWorkerExit: "fail" | "continue"
}

/** The in-process tool that runs `count` workers and waits for them; its exit code is theirs. */
export const inProcessWorkers = (o: InProcessWorkers): InProcessRun => ({ sink, log, env, workDir }) => {
  const self = gridArgv()
  // Imported here: the pool is for an in-process node (`grid run`) only.
  return Effect.flatMap(Effect.promise(() => import("../engine/WorkerPool.ts")), ({ runWorkers }) => runWorkers({
    count: o.count,
    argv: (i) => [...self, ...workerArgs(o.scenarioFile, "-", i, o.count, o.overrides, o.allowTargets), ...(o.client !== undefined ? ["--client", o.client] : [])],
    // The tool's clean environment (ToolEnv.ts), never the node's own.
    env: { ...env, ...nodeOptionsEnv(["--max-semi-space-size=4"]) },
    cwd: workDir,
    status: o.status,
    sink,
    log: (line) => log("stderr", line),
    // Only `grid run` has an in-process node: its user reads its terminal, not the node's log.
    warn: (line) => {
      log("stderr", line)
      process.stderr.write(`grid run: ${line}\n`)
    },
    onWorkerExit: o.onWorkerExit,
    cpuAffinity: o.cpuAffinity
  })).pipe(
    Effect.as(0),
    Effect.catch((e) => Effect.sync(() => (log("stderr", `grid engine: ${e.message}`), e.exitCode)))
  )
}

export interface WorkerParams {
  /** `params.workers`: over the scenario's `load.workers` and the node's `--engine-workers`. */
  readonly workers: number | undefined
  readonly cpuAffinity: boolean
  readonly onWorkerExit: "fail" | "continue"
}

/** The start command's worker params, checked. */
export const workerParams = (params: Readonly<Record<string, unknown>>): WorkerParams | string => {
  const { workers, cpuAffinity, onWorkerExit } = params
  if (workers !== undefined && (typeof workers !== "number" || !Number.isInteger(workers) || workers < 1)) {
    return `params.workers must be a positive integer, got ${JSON.stringify(workers)}`
  }
  if (cpuAffinity !== undefined && typeof cpuAffinity !== "boolean") return `params.cpuAffinity must be true or false, got ${JSON.stringify(cpuAffinity)}`
  if (onWorkerExit !== undefined && onWorkerExit !== "fail" && onWorkerExit !== "continue") {
    return `params.onWorkerExit must be "fail" or "continue", got ${JSON.stringify(onWorkerExit)}`
  }
  return { workers, cpuAffinity: cpuAffinity === true, onWorkerExit: onWorkerExit ?? "fail" }
}

/** `grid engine`'s worker flags for the params (the process and docker runners). */
export const workerFlags = (p: WorkerParams, nodeDefault: number | undefined, scenarioWorkers: number | undefined): Array<string> => {
  const n = p.workers ?? scenarioWorkers ?? nodeDefault
  return [
    ...(n !== undefined ? ["--workers", String(n)] : []),
    ...(p.cpuAffinity ? ["--cpu-affinity"] : []),
    ...(p.onWorkerExit === "continue" ? ["--on-worker-exit", "continue"] : [])
  ]
}

/** The scenario file's own `load.workers`, read without loading it (the engine checks the rest). */
export const scenarioWorkers = (file: string): Effect.Effect<number | undefined> =>
  Effect.promise(() => import("yaml")).pipe(Effect.map(({ parse }) => {
    try {
      const raw = parse(readFileSync(file, "utf8")) as { load?: { workers?: unknown } } | null
      const n = raw?.load?.workers
      return typeof n === "number" ? n : undefined
    } catch {
      return undefined
    }
  }))

/** The common params as the engine's overrides. */
export const toOverrides = (p: CommonParams): ScenarioOverrides => ({
  target: p.target?.href.replace(/\/$/, ""),
  users: p.users,
  rampUpSeconds: p.rampUpSeconds,
  durationSeconds: p.durationSeconds,
  rate: p.rate
})
