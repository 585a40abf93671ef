// Runner backend "process": the tool as a local child process in its own process group
// (effect/process spawns detached), so a stop reaches everything the tool started.
// Graceful stop = SIGTERM to the group, SIGKILL after the grace; closing the launch scope
// does the same with the node's default grace, so interruption always cleans up.
// The tool gets a clean environment (ToolEnv.ts), never the daemon's.
import { Context, Duration, Effect, Exit, Fiber, Layer, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type { LaunchSpec, RunnerBackend, RunningTool, ToolExit } from "./Backend.ts"
import { LaunchError } from "./Backend.ts"
import { toolEnv } from "./ToolEnv.ts"

export class ProcessBackend extends Context.Service<ProcessBackend, RunnerBackend>()("grid/runner/ProcessBackend") {
  /** `forcedGrace`: how long the scope's finalizer waits after SIGTERM before SIGKILL. */
  static readonly layer = (options: { readonly forcedGrace: Duration.Input }) =>
    Layer.effect(
      ProcessBackend,
      Effect.gen(function*() {
        const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
        return ProcessBackend.of(make(spawner, Duration.fromInputUnsafe(options.forcedGrace)))
      })
    )
}

const make = (spawner: ChildProcessSpawner.ChildProcessSpawner["Service"], forcedGrace: Duration.Duration): RunnerBackend => ({
  name: "process",
  available: Effect.succeed(true),
  toolWorkDir: (dir) => dir,
  launch: Effect.fnUntraced(function*(spec: LaunchSpec) {
    const [exe, ...args] = spec.argv
    if (exe === undefined) return yield* new LaunchError({ code: "launch_failed", message: "empty argv" })
    const handle = yield* spawner.spawn(
      ChildProcess.make(exe, args, {
        cwd: spec.workDir,
        // Never the daemon's environment: it holds the node's secrets (ToolEnv.ts).
        env: toolEnv(spec.env),
        extendEnv: false,
        stdin: "ignore",
        killSignal: "SIGTERM",
        forceKillAfter: forcedGrace
      })
    ).pipe(
      Effect.mapError((e) => new LaunchError({ code: "launch_failed", message: `cannot start ${exe}: ${e.message}` }))
    )
    const onLine = spec.onLine
    const pump = <E>(stream: Stream.Stream<Uint8Array, E>, name: "stdout" | "stderr") =>
      stream.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.runForEach((line) => Effect.sync(() => onLine?.(name, line))),
        Effect.ignore
      )
    const pumps = yield* Effect.all([pump(handle.stdout, "stdout"), pump(handle.stderr, "stderr")], {
      concurrency: 2,
      discard: true
    }).pipe(Effect.forkScoped)
    const exit: Effect.Effect<ToolExit> = handle.exitCode.pipe(
      Effect.exit,
      Effect.map((result): ToolExit =>
        Exit.isSuccess(result)
          ? { exitCode: result.value, signal: null }
          : { exitCode: null, signal: signalOf(result) }
      ),
      // Output pumps end when the pipes close; waiting for them keeps the last lines.
      Effect.tap(() => Effect.ignore(Effect.timeout(Fiber.await(pumps), "1 second")))
    )
    const running: RunningTool = {
      ref: { pid: handle.pid },
      what: `process group ${handle.pid}`,
      exit,
      stop: (grace) => Effect.ignore(handle.kill({ killSignal: "SIGTERM", forceKillAfter: grace })),
      gone: Effect.sync(() => {
        try {
          process.kill(-handle.pid, 0)
          return false
        } catch {
          return true
        }
      })
    }
    return running
  })
})

const signalOf = (exit: Exit.Exit<unknown, { message: string }>): string | null => {
  const text = Exit.isFailure(exit) ? String(exit.cause) : ""
  const m = /signal: '(SIG[A-Z0-9]+)'/.exec(text)
  return m ? m[1]! : "unknown"
}
