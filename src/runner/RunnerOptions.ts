// What the runner (the TestManager and each test's run) needs to know of its node. The daemon
// fills it from its whole configuration; `grid run` and tests from theirs. Every field here
// is a decision the runner makes on its own, so nothing in src/runner/ reads the daemon's
// configuration.
import type { Duration } from "effect"
import type { AllowList } from "../engine/TargetAllowList.ts"
import type { RunnerName } from "./Backend.ts"

export interface RunnerOptions {
  readonly nodeId: string
  /** The work-dir root; this node's tests live in `<workDir>/<nodeId>/<testId>`. */
  readonly workDir: string
  /** Tests at once. */
  readonly capacity: number
  /** Runner for a start that names none. */
  readonly defaultRunner: RunnerName
  /** Time a tool gets between the polite stop and the hard one. */
  readonly stopGrace: Duration.Duration
  /** Node-wide bound on a test's duration (and on a barrier wait). */
  readonly maxDuration: Duration.Duration
  /** Where this node may send load (`--allow-target`); no restriction when absent. */
  readonly allowTargets?: AllowList | undefined
  /** Tools whose targets the node cannot check, run anyway under an allow-list (`--allow-tools`). */
  readonly allowTools?: ReadonlyArray<string> | undefined
  /** Built-in engine workers for a test that names none (`--engine-workers`); the cores when absent. */
  readonly engineWorkers?: number | undefined
}
