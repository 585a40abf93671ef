// Runner backend "inprocess": a tool that runs inside the node's own process (LaunchSpec
// .inProcess; today the built-in engine under `grid run`) as a fiber of the test's launch
// scope. Its stop is interruption: the engine aborts what is in flight and returns, so the
// grace has nothing to wait for and nothing can be killed harder. Samples go to the push-mode
// ingestion's sink the runner hands over (LaunchSpec.sink), lines to the log like a process's.
// Only `grid run`'s node offers it (LocalNode.ts): in a daemon the tool would share the
// daemon's event loop, and a tool the daemon cannot kill is no tool a controller can rely on.
import { Context, Deferred, Effect, Fiber, FileSystem, Layer, Path } from "effect"
import type { LaunchSpec, RunnerBackend, RunningTool, ToolExit } from "./Backend.ts"
import { LaunchError } from "./Backend.ts"
import { toolEnv } from "./ToolEnv.ts"

export class InProcessBackend extends Context.Service<InProcessBackend, RunnerBackend>()("grid/runner/InProcessBackend") {
  static readonly layer = Layer.effect(
    InProcessBackend,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      return InProcessBackend.of(make(Context.make(FileSystem.FileSystem, fs).pipe(Context.add(Path.Path, path))))
    })
  )
}

const make = (services: Context.Context<FileSystem.FileSystem | Path.Path>): RunnerBackend => ({
  name: "inprocess",
  available: Effect.succeed(true),
  toolWorkDir: (dir) => dir,
  launch: Effect.fnUntraced(function*(spec: LaunchSpec) {
    const run = spec.inProcess
    if (run === undefined) {
      return yield* new LaunchError({ code: "launch_failed", message: `tool of test ${spec.testId} cannot run in-process` })
    }
    const ended = yield* Deferred.make<ToolExit>()
    const io = {
      sink: spec.sink ?? (() => {}),
      log: (stream: "stdout" | "stderr", line: string) => spec.onLine?.(stream, line),
      // The same clean environment a child process gets (ToolEnv.ts), never the node's own.
      env: toolEnv(spec.env),
      workDir: spec.workDir
    }
    // Forked into the launch scope: closing it interrupts the tool whatever else happened.
    const fiber = yield* run(io).pipe(
      Effect.provideContext(services),
      Effect.map((exitCode): ToolExit => ({ exitCode, signal: null })),
      // An interrupted tool stopped as asked: that is its polite stop succeeding.
      Effect.onInterrupt(() => Deferred.succeed(ended, { exitCode: 0, signal: null })),
      Effect.tap((exit) => Deferred.succeed(ended, exit)),
      Effect.forkScoped
    )
    const running: RunningTool = {
      ref: { pid: process.pid },
      what: "in-process tool",
      exit: Deferred.await(ended),
      stop: () => Fiber.interrupt(fiber).pipe(Effect.asVoid),
      gone: Effect.map(Fiber.await(fiber).pipe(Effect.timeoutOption("1 second")), (done) => done._tag === "Some")
    }
    return running
  })
})
