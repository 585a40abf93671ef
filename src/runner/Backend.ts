// The runner backend interface: how a prepared tool invocation becomes a running thing
// (a local process group, a docker container, or a fiber of this process for a tool that runs
// in-process) and how it is stopped. The test runner (src/runner/TestRun.ts) drives any
// backend through this and knows none of them; all three pass one conformance suite
// (test/backend-conformance.ts).
import type { Duration, Effect, FileSystem, Path, Scope } from "effect"
import { Schema } from "effect"
import type { SampleSink } from "../ingest/Sample.ts"

export type RunnerName = "process" | "docker" | "inprocess"

/** A tool that runs inside the node's process (the built-in engine under `grid run`): samples
 * to `sink`, output lines to `log`; it sees only `env` (never the node's own environment) and
 * its work directory. Returns its exit code (0 ran, 1 failed, 2 refused its input);
 * interruption is its stop. */
export type InProcessRun = (io: {
  readonly sink: SampleSink
  readonly log: (stream: "stdout" | "stderr", line: string) => void
  readonly env: Readonly<Record<string, string>>
  readonly workDir: string
}) => Effect.Effect<number, never, FileSystem.FileSystem | Path.Path>

/** What a tool adapter produced for one test, ready to launch. */
export interface LaunchSpec {
  readonly testId: string
  readonly nodeId: string
  /** The test's work directory on the host; the process backend runs in it, docker mounts it. */
  readonly workDir: string
  /** argv; for the process backend argv[0] is the executable (never a shell string). For
   * docker it is the container command (after the image), empty for the image's default. */
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  /** docker only: the image to run. */
  readonly image?: string | undefined
  readonly limits?: { readonly cpus?: number | undefined; readonly memoryMb?: number | undefined } | undefined
  /** Called for every line the tool prints (both streams), for log capture. */
  readonly onLine?: ((stream: "stdout" | "stderr", line: string) => void) | undefined
  /** inprocess only: the tool itself (ToolPlan.inProcess); `argv` is then unused. */
  readonly inProcess?: InProcessRun | undefined
  /** Where a tool that pushes its samples sends them: the push-mode ingestion's sink, set
   * when the plan's results are `"push"`. */
  readonly sink?: SampleSink | undefined
}

/** How a tool ended on its own (or after a stop). `signal` is set when it was killed by one. */
export interface ToolExit {
  readonly exitCode: number | null
  readonly signal: string | null
}

export interface RunningTool {
  /** `{pid}` for processes, `{containerId}` for docker: the `started` event carries it. */
  readonly ref: { readonly pid: number } | { readonly containerId: string }
  /** How the cleanup report names it ("process group 123", "container ab12", "in-process tool"). */
  readonly what: string
  /** Waits until the tool has exited. Never fails: an unknown end is `{exitCode: null}`. */
  readonly exit: Effect.Effect<ToolExit>
  /** Graceful stop: polite signal to the whole group / container, then a forced kill
   * after `grace`; completes once everything is gone. */
  readonly stop: (grace: Duration.Duration) => Effect.Effect<void>
  /** Whether everything the tool was is really gone (process group, container): checked
   * after the launch scope closed, for the terminal event's cleanup report. */
  readonly gone: Effect.Effect<boolean>
}

export class LaunchError extends Schema.TaggedError<LaunchError>()("LaunchError", {
  /** Protocol error code for the `failed` event (e.g. `launch_failed`, `docker_unavailable`, `image_missing`). */
  code: Schema.String,
  message: Schema.String
}) {}

export interface RunnerBackend {
  readonly name: RunnerName
  /** Whether this backend can launch right now (binary present, daemon reachable). */
  readonly available: Effect.Effect<boolean>
  /** The test's work directory as the tool sees it (a container sees its mount point). */
  readonly toolWorkDir: (hostDir: string) => string
  /** Starts the tool. Closing the scope forces it gone (kill after the backend's default
   * grace, container removed) whatever happened, so interruption always cleans up. */
  readonly launch: (spec: LaunchSpec) => Effect.Effect<RunningTool, LaunchError, Scope.Scope>
}
