// The tool adapter interface: how a `start` command for one tool becomes a LaunchSpec for
// a runner backend, where its results land, and how its end is judged. One file per tool
// in src/tools/; the ToolRegistry service (src/tools/ToolRegistry.ts) lists them.
import type { Effect, FileSystem, Path } from "effect"
import type { SampleSink } from "../ingest/Sample.ts"
import type { LocalRunHooks } from "../runner/LocalRun.ts"
import { Schema } from "effect"
import type { StartCommand, ToolName } from "../protocol/commands.ts"
import type { ErrorInfo } from "../protocol/events.ts"
import type { RunnerName, ToolExit } from "../runner/Backend.ts"

/** Result formats the ingestion parsers read (src/ingest/parsers/). */
export type { ResultFormat } from "../ingest/parsers/Parser.ts"
import type { ResultFormat } from "../ingest/parsers/Parser.ts"

export interface ToolContext {
  readonly command: StartCommand
  /** Set when the node is `grid run` on the user's machine: tools that can, run in-process. */
  readonly local?: LocalRunHooks | undefined
  readonly runner: RunnerName
  /** The work directory on the host (files already written). */
  readonly workDir: string
  /** The same directory as the tool sees it: `workDir` for processes, the mount point in a container. */
  readonly toolWorkDir: string
}

export interface ToolPlan {
  /** Process runner: argv[0] is the executable. Docker runner: the container command. */
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly image?: string | undefined
  /** The result file (host path) and its format, when the tool writes one; `lateMs`: how long
   * its windows wait for samples written late (default 2000 ms, for tools that buffer). */
  readonly results?: { readonly path: string; readonly format: ResultFormat; readonly lateMs?: number | undefined } | undefined
  /** The tool's own polite stop (e.g. JMeter's UDP `Shutdown`), used before signals: the
   * runner sends it, waits up to the grace for the tool to end, then stops it as usual. */
  readonly politeStop?: Effect.Effect<void> | undefined
  /** Runs the tool inside the node's process instead of launching `argv` (only with
   * `ToolContext.local`); its samples go straight into ingestion, `results` is not read. */
  readonly inProcess?: InProcessRun | undefined
}

/** An in-process tool: samples to `sink`, output lines to `log`; its exit code (0 ran, 1
 * failed, 2 refused its input). Interruption is its polite stop. */
export type InProcessRun = (io: {
  readonly sink: SampleSink
  readonly log: (stream: "stdout" | "stderr", line: string) => void
}) => Effect.Effect<number, never, FileSystem.FileSystem | Path.Path>

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
}

/** Shared rule for tools whose exit code is trustworthy. */
export const judgeByExitCode = (outcome: ToolOutcome): ErrorInfo | undefined => {
  const { exitCode, signal } = outcome.exit
  if (exitCode === 0) return undefined
  const tail = outcome.logTail.slice(-10).join("\n")
  const how = signal !== null ? `was killed by ${signal}` : exitCode === null ? "ended in an unknown way" : `exited with code ${exitCode}`
  return { code: "tool_failed", message: `the tool ${how}${tail ? `; last output:\n${tail}` : ""}` }
}
