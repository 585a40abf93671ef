// The engine-worker flags `grid run` and `grid engine` share: how many engine processes share
// the load (src/engine/WorkerPool.ts), whether each is pinned to a core, and what a worker's
// death does to the run. `grid run` passes them to its node as the start command's params
// (`workers`, `cpuAffinity`, `onWorkerExit`), as a controller would.
import { Option } from "effect"
import { Flag } from "effect/cli"

export const workerFlags = {
  workers: Flag.Int("workers").pipe(
    Flag.withDescription("Engine processes sharing the load, each with its own event loop and connections (default: the scenario's load.workers, else the cores available for a run of 10 s or more)"),
    Flag.optional
  ),
  cpuAffinity: Flag.Boolean("cpu-affinity").pipe(Flag.withDescription("Pin engine worker i to core i (needs taskset)"), Flag.withDefault(false)),
  onWorkerExit: Flag.Literals("on-worker-exit", ["fail", "continue"]).pipe(
    Flag.withDescription("An engine worker that dies fails the run (fail), or the run goes on at reduced load and says so (continue)"),
    Flag.withDefault("fail" as const)
  )
}

export interface WorkerFlagValues {
  readonly workers: Option.Option<number>
  readonly cpuAffinity: boolean
  readonly onWorkerExit: "fail" | "continue"
}

export const workerFlagProblems = (o: WorkerFlagValues): Array<string> =>
  Option.isSome(o.workers) && o.workers.value < 1 ? [`--workers ${o.workers.value}: must be at least 1`] : []

/** The flags as a start command's params (only those given). */
export const workerParamsOf = (o: WorkerFlagValues): Record<string, unknown> => ({
  ...(Option.isSome(o.workers) ? { workers: o.workers.value } : {}),
  ...(o.cpuAffinity ? { cpuAffinity: true } : {}),
  ...(o.onWorkerExit === "continue" ? { onWorkerExit: "continue" } : {})
})
