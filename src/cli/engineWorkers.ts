// `grid engine` as several processes: the parent (`--workers N`, N > 1) creates the JTL with its
// header, starts N workers appending to it (src/engine/WorkerPool.ts), prints one progress line
// for all of them and exits like a single engine would (0, or the failed worker's 1/2/3); a
// worker (`--worker i/N`, started by a parent, never by hand) runs its share and speaks the
// pipe protocol of src/engine/WorkerWire.ts. A SIGTERM (the daemon's stop) reaches the whole
// process group: every worker flushes its lines and the parent exits 0, as one engine does.
import { Clock, Console, Duration, Effect, Exit } from "effect"
import { type EngineError, newStatus } from "../engine/Engine.ts"
import { JtlWriter } from "../engine/JtlWriter.ts"
import type { WorkerShare } from "../engine/LoadSplit.ts"
import type { Scenario, ScenarioOverrides } from "../engine/Scenario.ts"
import type { AllowList } from "../engine/TargetAllowList.ts"
import { workerArgs } from "../engine/WorkerArgs.ts"
import { runWorker } from "../engine/WorkerMain.ts"
import { runWorkers } from "../engine/WorkerPool.ts"
import { gridArgv, nodeOptionsEnv } from "./self.ts"

/** `grid engine`'s exit code for a target the allow-list refused (engine.ts). */
const EXIT_TARGET_NOT_ALLOWED = 3

const exitCodeOf = (e: EngineError | string): number =>
  typeof e === "string" ? 1 : e.code === "target_not_allowed" ? EXIT_TARGET_NOT_ALLOWED : 1

const messageOf = (e: EngineError | string): string =>
  typeof e === "string" ? e : `${e.code === "target_not_allowed" ? "target_not_allowed: " : ""}${e.message}`

/** `--worker i/N`: this process is one of its parent's workers. */
export const engineWorker = (scenario: Scenario, share: WorkerShare, results: string, allow: AllowList | undefined) =>
  runWorker({ scenario, share, results, allow }).pipe(
    Effect.onExit((exit) => Effect.sync(() => {
      // Stopped (SIGTERM, or `stop` from the parent): a normal end, as for one engine.
      if (Exit.hasInterrupts(exit)) process.exit(0)
    })),
    Effect.catch((e) =>
      Effect.andThen(Console.error(`grid engine: ${messageOf(e)}`), Effect.sync(() => {
        process.exitCode = exitCodeOf(e)
      }))
    )
  )

export interface ParentOptions {
  readonly file: string
  readonly scenario: Scenario
  readonly results: string
  readonly workers: number
  readonly overrides: ScenarioOverrides
  /** Worker arguments beyond the overrides: --allow-target, --client. */
  readonly extraArgs: ReadonlyArray<string>
  readonly cpuAffinity: { readonly cores: number } | undefined
  readonly onWorkerExit: "fail" | "continue"
}

/** `--workers N` with N > 1: the parent of N workers sharing one JTL. */
export const engineParent = Effect.fnUntraced(function*(o: ParentOptions) {
  const opened = yield* Effect.result(Effect.try({
    try: () => new JtlWriter(o.results).close(),
    catch: (e) => `cannot write ${o.results}: ${(e as Error).message}`
  }))
  if (opened._tag === "Failure") {
    yield* Console.error(`grid engine: ${opened.failure}`)
    process.exitCode = 1
    return
  }
  const status = newStatus()
  const totals = { samples: 0 }
  const startedAt = yield* Clock.currentTimeMillis
  const ticker = Effect.gen(function*() {
    while (true) {
      yield* Effect.sleep(Duration.seconds(1))
      const now = yield* Clock.currentTimeMillis
      yield* Console.log(`${((now - startedAt) / 1000).toFixed(0)} s  users ${status.users}  samples ${totals.samples}  dropped ${status.dropped}`)
    }
  })
  yield* Console.log(
    `grid engine ${o.file}: ${o.scenario.load.model} model, ${o.scenario.durationMs / 1000} s against ${o.scenario.target.origin}, ${o.workers} workers, results in ${o.results}`
  )
  const self = gridArgv()
  const result = yield* runWorkers({
    count: o.workers,
    argv: (i) => [...self, ...workerArgs(o.file, o.results, i, o.workers, o.overrides, []), ...o.extraArgs],
    // The parent's environment (the daemon's clean tool environment), NODE_OPTIONS included.
    env: { ...process.env, ...nodeOptionsEnv(["--max-semi-space-size=4"]) },
    status,
    totals,
    log: (line) => process.stderr.write(`${line}\n`),
    onWorkerExit: o.onWorkerExit,
    cpuAffinity: o.cpuAffinity
  }).pipe(
    Effect.raceFirst(Effect.andThen(ticker, Effect.never)),
    Effect.onExit((exit) => Effect.sync(() => {
      if (Exit.hasInterrupts(exit)) {
        process.stdout.write(`stopped: ${totals.samples} samples written\n`)
        process.exit(0)
      }
    })),
    Effect.result
  )
  if (result._tag === "Failure") {
    yield* Console.error(`grid engine: ${result.failure.message}`)
    process.exitCode = result.failure.exitCode
    return
  }
  yield* Console.log(`finished: ${result.success.samples} samples written${result.success.lost > 0 ? ` (${result.success.lost} of ${o.workers} workers lost)` : ""}`)
})
