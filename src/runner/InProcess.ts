// Launching an in-process tool (ToolPlan.inProcess) as a RunningTool, so the test runner
// treats it like a process or a container: its fiber lives in the test's scope, a stop
// interrupts it (the engine aborts what is in flight and returns), and it is gone once the
// fiber has ended. Only `grid run` uses this; a daemon's tools are always separate processes.
import { Deferred, Effect, Fiber, type FileSystem, type Path, type Scope } from "effect"
import type { RunningTool, ToolExit } from "./Backend.ts"
import type { SampleSink } from "../ingest/Sample.ts"
import type { InProcessRun } from "../tools/Tool.ts"

export const launchInProcess = (
  run: InProcessRun,
  io: { readonly sink: SampleSink; readonly log: (stream: "stdout" | "stderr", line: string) => void }
): Effect.Effect<RunningTool, never, Scope.Scope | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const ended = yield* Deferred.make<ToolExit>()
    const fiber = yield* run(io).pipe(
      Effect.map((exitCode): ToolExit => ({ exitCode, signal: null })),
      Effect.onInterrupt(() => Deferred.succeed(ended, { exitCode: 0, signal: null })),
      Effect.tap((exit) => Deferred.succeed(ended, exit)),
      Effect.forkScoped
    )
    return {
      ref: { pid: process.pid },
      exit: Deferred.await(ended),
      stop: () => Fiber.interrupt(fiber).pipe(Effect.asVoid),
      gone: Effect.map(Deferred.isDone(ended), (done) => done)
    }
  })
