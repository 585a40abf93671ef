// The tool adapter interface: how a `start` command for one tool becomes a LaunchSpec for
// a runner backend, where its results land, and how its end is judged. One file per tool
// in src/tools/; the ToolRegistry service (src/tools/ToolRegistry.ts) lists them.
import type { Effect, FileSystem, Path } from "effect"
import type { AllowList } from "../engine/TargetAllowList.ts"
import type { LocalRunHooks } from "../runner/LocalRun.ts"
import { Schema } from "effect"
import type { StartCommand, ToolName } from "../protocol/commands.ts"
import type { ErrorInfo } from "../protocol/events.ts"
import type { InProcessRun, RunnerName, ToolExit } from "../runner/Backend.ts"

export type { InProcessRun }

/** Result formats the ingestion parsers read (src/ingest/parsers/). */
export type { ResultFormat } from "../ingest/parsers/Parser.ts"
import type { ResultFormat } from "../ingest/parsers/Parser.ts"

export interface ToolContext {
  readonly command: StartCommand
  /** Set when the node is `grid run` on the user's machine: where an in-process engine
   * reports its live status (users, arrivals, dropped). */
  readonly local?: LocalRunHooks | undefined
  readonly runner: RunnerName
  /** The work directory on the host (files already written). */
  readonly workDir: string
  /** The same directory as the tool sees it: `workDir` for processes, the mount point in a container. */
  readonly toolWorkDir: string
  /** The node's `--allow-target` entries, for a tool that enforces them itself at connect. */
  readonly allowTargets?: ReadonlyArray<string> | undefined
  /** The built-in engine's HTTP client by the live flag `engine.client`, over the scenario's. */
  readonly engineClient?: "lean" | "undici" | undefined
  /** Chromium for a browser scenario, by the live flag `tools.browser.path`. */
  readonly browserPath?: string | undefined
  /** The node's default number of engine workers (`--engine-workers`); its cores when absent. */
  readonly engineWorkers?: number | undefined
}

export interface ToolPlan {
  /** Process runner: argv[0] is the executable. Docker runner: the container command. */
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly image?: string | undefined
  /** The result file (host path) and its format, when the tool writes one; `lateMs`: how long
   * its windows wait for samples written late (default 2000 ms, for tools that buffer).
   * `"push"`: the tool hands its samples to the ingestion's sink itself (an in-process tool):
   * ingestion then starts before the launch, and the launch gets the sink. */
  readonly results?: { readonly path: string; readonly format: ResultFormat; readonly lateMs?: number | undefined } | "push" | undefined
  /** The tool's own polite stop (e.g. JMeter's UDP `Shutdown`), used before signals: the
   * runner sends it, waits up to the grace for the tool to end, then stops it as usual. */
  readonly politeStop?: Effect.Effect<void> | undefined
  /** The inprocess runner: the tool itself, run inside the node's process instead of `argv`. */
  readonly inProcess?: InProcessRun | undefined
}

/** The plan's result file, when the tool writes one (not when it pushes its samples). */
export const resultFileOf = (plan: ToolPlan): Exclude<ToolPlan["results"], "push"> =>
  plan.results === "push" ? undefined : plan.results

export interface ToolOutcome {
  readonly exit: ToolExit
  /** Samples the ingestion read, when the tool has results. */
  readonly samples: number | undefined
  /** Last lines the tool printed. */
  readonly logTail: ReadonlyArray<string>
}

export class ToolError extends Schema.TaggedError<ToolError>()("ToolError", {
  /** Protocol code: `invalid_command` when the command cannot work with this tool. */
  code: Schema.String,
  message: Schema.String
}) {}

export interface ToolAdapter {
  readonly name: ToolName
  /** Image for the docker runner when the command names none. */
  readonly defaultImage: string | undefined
  /** Whether this node can run the tool with this runner right now. */
  readonly available: (runner: RunnerName) => Effect.Effect<boolean>
  readonly plan: (ctx: ToolContext) => Effect.Effect<ToolPlan, ToolError>
  /** `undefined` when the run succeeded, else why it failed. Tools that exit 0 having done
   * nothing (Debian's JMeter) are judged from samples and logs, not the exit code alone. */
  readonly judge: (outcome: ToolOutcome) => ErrorInfo | undefined
  /** Why the planned test would send to a host the list does not allow (undefined: it would
   * not). Only a tool whose targets the node can read has it; for the others an allow-list
   * admits them only by name (`--allow-tools`). */
  readonly checkTargets?: ((ctx: ToolContext, allow: AllowList) => Effect.Effect<string | undefined, ToolError, FileSystem.FileSystem | Path.Path>) | undefined
}

/** Shared rule for tools whose exit code is trustworthy. */
export const judgeByExitCode = (outcome: ToolOutcome): ErrorInfo | undefined => {
  const { exitCode, signal } = outcome.exit
  if (exitCode === 0) return undefined
  const tail = outcome.logTail.slice(-10).join("\n")
  const how = signal !== null ? `was killed by ${signal}` : exitCode === null ? "ended in an unknown way" : `exited with code ${exitCode}`
  return { code: "tool_failed", message: `the tool ${how}${tail ? `; last output:\n${tail}` : ""}` }
}
