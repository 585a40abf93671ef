// The `grid engine` arguments that carry a run's overrides and allow-list, shared by the two
// places that start engines: the builtin tool (the daemon's child, `grid engine ...`) and the
// worker pool (each worker re-reads the scenario with the same overrides as its parent).
import type { ScenarioOverrides } from "./Scenario.ts"

export const overrideArgs = (o: ScenarioOverrides): Array<string> => [
  ...(o.target !== undefined ? ["--target", o.target] : []),
  ...(o.users !== undefined ? ["--users", String(o.users)] : []),
  ...(o.rampUpSeconds !== undefined ? ["--ramp-up", `${o.rampUpSeconds}s`] : []),
  ...(o.durationSeconds !== undefined ? ["--duration", `${o.durationSeconds}s`] : []),
  ...(o.rate !== undefined ? ["--rate", String(o.rate)] : [])
]

export const allowArgs = (allowTargets: ReadonlyArray<string> | undefined): Array<string> =>
  (allowTargets ?? []).flatMap((t) => ["--allow-target", t])

/** Worker `index` of `count`'s argv after grid's own (`gridArgv()`). */
export const workerArgs = (
  scenarioFile: string,
  results: string,
  index: number,
  count: number,
  overrides: ScenarioOverrides,
  allowTargets: ReadonlyArray<string> | undefined
): Array<string> => ["engine", scenarioFile, "--results", results, "--worker", `${index}/${count}`, ...overrideArgs(overrides), ...allowArgs(allowTargets)]
