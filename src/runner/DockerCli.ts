// The `docker` CLI as a service: runs one CLI invocation and collects its output, or spawns
// a long-lived one (`logs -f`) in a scope. Shared by the docker runner backend and the
// orphan sweep. The CLI, not the Engine API, is what stays compatible with whatever daemon
// a box runs, so everything docker-related goes through here. CLI failures become a typed
// DockerError carrying the CLI's own message and a protocol code (see `classify`).
import { Context, Duration, Effect, Layer, Schema, type Scope, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

export class DockerError extends Schema.TaggedError<DockerError>()("DockerError", {
  /** `docker_unavailable`, `image_missing`, `docker_cli_unsupported`, or `docker_failed`. */
  code: Schema.String,
  message: Schema.String
}) {}

export interface DockerResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export interface DockerExecOptions {
  /** Extra environment for the CLI process; `-e NAME` (no value) reads from it, which keeps
   * secret values out of the argv that `ps` shows. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Bound on the CLI call; a hung daemon must not hang the node. */
  readonly timeout?: Duration.Input | undefined
}

export interface DockerCliShape {
  readonly bin: string
  /** Runs `docker <args>` to completion; a non-zero exit is a DockerError. */
  readonly exec: (args: ReadonlyArray<string>, options?: DockerExecOptions) => Effect.Effect<DockerResult, DockerError>
  /** Runs `docker <args>` to completion and returns its result whatever the exit code. */
  readonly execRaw: (args: ReadonlyArray<string>, options?: DockerExecOptions) => Effect.Effect<DockerResult, DockerError>
  /** Spawns a long-lived CLI process (e.g. `logs -f`) owned by the caller's scope. */
  readonly spawn: (
    args: ReadonlyArray<string>
  ) => Effect.Effect<ChildProcessSpawner.ChildProcessHandle, DockerError, Scope.Scope>
}

export class DockerCli extends Context.Service<DockerCli, DockerCliShape>()("grid/runner/DockerCli") {
  /** `bin`: the docker executable (PATH lookup by default); `env`: set for every call
   * (e.g. `DOCKER_HOST` to use another engine than the CLI's default). */
  static readonly layer = (options: {
    readonly bin?: string | undefined
    readonly env?: Readonly<Record<string, string>> | undefined
  } = {}) =>
    Layer.effect(
      DockerCli,
      Effect.gen(function*() {
        const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
        return DockerCli.of(make(spawner, options.bin ?? "docker", options.env ?? {}))
      })
    )
}

const defaultTimeout = Duration.seconds(60)

const make = (
  spawner: ChildProcessSpawner.ChildProcessSpawner["Service"],
  bin: string,
  baseEnv: Readonly<Record<string, string>>
): DockerCliShape => {
  const spawnError = (e: { message: string }) =>
    new DockerError({
      code: "docker_unavailable",
      message: `cannot run the docker CLI (${bin}): ${e.message}`
    })
  const execRaw = (args: ReadonlyArray<string>, options?: DockerExecOptions) =>
    Effect.scoped(
      Effect.gen(function*() {
        const handle = yield* spawner.spawn(
          ChildProcess.make(bin, [...args], {
            env: { ...baseEnv, ...options?.env },
            extendEnv: true,
            stdin: "ignore",
            killSignal: "SIGTERM",
            forceKillAfter: "2 seconds"
          })
        )
        const [stdout, stderr, exitCode] = yield* Effect.all([
          Stream.mkString(Stream.decodeText(handle.stdout)),
          Stream.mkString(Stream.decodeText(handle.stderr)),
          handle.exitCode
        ], { concurrency: 3 })
        return { exitCode: Number(exitCode), stdout, stderr } satisfies DockerResult
      })
    ).pipe(
      Effect.mapError(spawnError),
      Effect.timeoutOrElse({
        duration: options?.timeout ?? defaultTimeout,
        orElse: () =>
          Effect.fail(
            new DockerError({
              code: "docker_unavailable",
              message: `docker ${args[0] ?? ""} did not answer within ${Duration.format(Duration.fromInputUnsafe(options?.timeout ?? defaultTimeout))}`
            })
          )
      })
    )
  return {
    bin,
    execRaw,
    exec: (args, options) =>
      execRaw(args, options).pipe(
        Effect.flatMap((r) => r.exitCode === 0 ? Effect.succeed(r) : Effect.fail(classify(args, r)))
      ),
    spawn: (args) =>
      spawner.spawn(
        ChildProcess.make(bin, [...args], {
          env: { ...baseEnv },
          extendEnv: true,
          stdin: "ignore",
          killSignal: "SIGTERM",
          forceKillAfter: "2 seconds"
        })
      ).pipe(Effect.mapError(spawnError))
  }
}

/** Maps a failed CLI call to a protocol code, keeping the CLI's own words as the message. */
export const classify = (args: ReadonlyArray<string>, r: DockerResult): DockerError => {
  const text = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.exitCode}`).slice(0, 2000)
  const message = `docker ${args[0] ?? ""}: ${text}`
  const code = /Cannot connect to the Docker daemon|Is the docker daemon running|error during connect|permission denied while trying to connect/i.test(text)
    ? "docker_unavailable"
    : /Unable to find image|No such image|pull access denied|manifest unknown|repository does not exist/i.test(text)
    ? "image_missing"
    : /unknown flag|unknown shorthand flag|is not supported|requires API version|client version .* is too (new|old)/i.test(text)
    ? "docker_cli_unsupported"
    : "docker_failed"
  return new DockerError({ code, message })
}
