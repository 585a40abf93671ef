// The runner backends this node has, looked up by the name a `start` command asks for (or
// the node's default runner): a daemon has process and docker, `grid run`'s node process and
// inprocess (InProcessBackend.ts says why a daemon does not run tools in its own process).
import { Context, type Duration, Effect, Layer } from "effect"
import type { RunnerBackend, RunnerName } from "./Backend.ts"
import { DockerBackend, type DockerBackendOptions } from "./DockerBackend.ts"
import { InProcessBackend } from "./InProcessBackend.ts"
import { ProcessBackend } from "./ProcessBackend.ts"

export class Backends extends Context.Service<Backends, {
  readonly get: (name: RunnerName) => RunnerBackend | undefined
  /** Names of the backends usable right now (for the heartbeat). */
  readonly available: Effect.Effect<ReadonlyArray<RunnerName>>
}>()("grid/runner/Backends") {
  static readonly make = (backends: ReadonlyArray<RunnerBackend>) =>
    Backends.of({
      get: (name) => backends.find((b) => b.name === name),
      available: Effect.map(
        Effect.forEach(backends, (b) => Effect.map(b.available, (ok) => (ok ? [b.name] : []))),
        (names) => names.flat()
      )
    })

  /** Processes and docker containers (docker is advertised only while its engine answers). */
  static readonly layer = (options: { readonly forcedGrace: Duration.Input; readonly docker?: DockerBackendOptions | undefined }) =>
    Layer.effect(
      Backends,
      Effect.gen(function*() {
        return Backends.make([yield* ProcessBackend, yield* DockerBackend])
      })
    ).pipe(
      Layer.provide(Layer.mergeAll(
        ProcessBackend.layer({ forcedGrace: options.forcedGrace }),
        DockerBackend.layer({ forcedGrace: options.forcedGrace, ...options.docker })
      ))
    )

  /** `grid run`'s node: processes, and tools that run inside it (the built-in engine). */
  static readonly local = (options: { readonly forcedGrace: Duration.Input }) =>
    Layer.effect(
      Backends,
      Effect.gen(function*() {
        return Backends.make([yield* ProcessBackend, yield* InProcessBackend])
      })
    ).pipe(Layer.provide(Layer.mergeAll(ProcessBackend.layer({ forcedGrace: options.forcedGrace }), InProcessBackend.layer)))

  /** Only the process backend. */
  static readonly processOnly = Layer.effect(
    Backends,
    Effect.map(ProcessBackend, (p) => Backends.make([p]))
  )
}
