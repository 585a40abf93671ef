// Runner backend "docker": the tool as a container started through the `docker` CLI
// (DockerCli). `docker run -d` with the node and test as labels, a unique name, a cidfile
// (in the work directory), the work directory mounted at a fixed path, host networking,
// `--init`, every capability dropped, no new privileges, resource limits; logs followed with
// `docker logs -f`; the exit code from `docker wait`. Stop = `docker stop -t <grace>` then `docker rm -f`. The removal
// is registered as a finalizer BEFORE `docker run`, by name, so a container that `docker run`
// created and then failed on (or that an interruption caught mid-call) is removed too; what
// still slips through (a daemon killed with SIGKILL) is the orphan sweep's (OrphanSweep.ts).
import { randomBytes } from "node:crypto"
import { constants as osConstants } from "node:os"
import { Context, Deferred, Duration, Effect, Fiber, FileSystem, Layer, Option, Stream } from "effect"
import type { LaunchSpec, RunnerBackend, RunningTool, ToolExit } from "./Backend.ts"
import { LaunchError } from "./Backend.ts"
import { DockerCli, type DockerCliShape, type DockerError } from "./DockerCli.ts"
import { readInside } from "../ingest/WorkFile.ts"

/** Where the test's work directory appears inside the container (ToolContext.toolWorkDir). */
export const dockerWorkMount = "/grid/work"
/** Labels every grid container carries; the orphan sweep filters on them. */
export const nodeLabel = "grid.node"
export const testLabel = "grid.test"

export interface DockerBackendOptions {
  /** How long closing the launch scope waits after the polite stop before the kill. */
  readonly forcedGrace: Duration.Input
  /** `--network`; `host` by default (works without a bridge, and targets on 127.0.0.1 stay reachable). */
  readonly network?: string | undefined
  /** `--pids-limit`; JMeter runs one thread per user, so keep it generous. */
  readonly pidsLimit?: number | undefined
  /** `--user`; by default the owner of the work directory, so the files the tool writes
   * belong to the node and its cleanup can remove them. `"image"` keeps the image's user. */
  readonly user?: string | undefined
  /** Pull a missing image (`missing`, the default) or fail at once (`never`). */
  readonly pull?: "missing" | "never" | undefined
  /** Capabilities to keep after `--cap-drop ALL` (none of the supported tools needs one). */
  readonly capAdd?: ReadonlyArray<string> | undefined
}

export class DockerBackend extends Context.Service<DockerBackend, RunnerBackend>()("grid/runner/DockerBackend") {
  static readonly layer = (options: DockerBackendOptions) =>
    Layer.effect(
      DockerBackend,
      Effect.gen(function*() {
        const cli = yield* DockerCli
        const fs = yield* FileSystem.FileSystem
        const backend = make(cli, fs, options)
        // Heartbeats ask every few seconds; one `docker version` per 5 s is enough.
        const available = yield* Effect.cachedWithTTL(backend.available, "5 seconds")
        return DockerBackend.of({ ...backend, available })
      })
    )
}

const toLaunchError = (e: DockerError) => new LaunchError({ code: e.code, message: e.message })

/** docker's `stop -t` takes whole seconds; never round a grace down to an immediate kill. */
const graceSeconds = (grace: Duration.Duration) => String(Math.max(0, Math.ceil(Duration.toMillis(grace) / 1000)))

const signalNames = new Map(Object.entries(osConstants.signals).map(([name, n]) => [n, name]))

/** `--init` (tini) and docker report a signal death as 128 + signal number. */
const toExit = (code: number): ToolExit => ({
  exitCode: code,
  signal: code > 128 && code < 160 ? signalNames.get(code - 128) ?? null : null
})

/** `--mount` takes CSV: a field holding a comma or a quote is quoted, quotes doubled. */
const mountSpec = (source: string) => {
  const field = `source=${source}`
  return `type=bind,${/[",]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field},target=${dockerWorkMount}`
}

export const containerName = (spec: Pick<LaunchSpec, "nodeId" | "testId">, suffix: string) =>
  `grid-${spec.nodeId}-${spec.testId}-${suffix}`

const make = (cli: DockerCliShape, fs: FileSystem.FileSystem, options: DockerBackendOptions): RunnerBackend => {
  const forcedGrace = Duration.fromInputUnsafe(options.forcedGrace)

  const ensureImage = (image: string) =>
    cli.execRaw(["image", "inspect", "--format", "{{.Id}}", image], { timeout: "30 seconds" }).pipe(
      Effect.flatMap((r) => {
        if (r.exitCode === 0) return Effect.void
        if (/Cannot connect to the Docker daemon|error during connect/i.test(r.stderr)) {
          return Effect.fail(new LaunchError({ code: "docker_unavailable", message: `docker image inspect: ${r.stderr.trim()}` }))
        }
        if (options.pull === "never") {
          return Effect.fail(new LaunchError({ code: "image_missing", message: `image ${image} is not present on this node (pull disabled): ${r.stderr.trim()}` }))
        }
        return cli.exec(["pull", "--quiet", image], { timeout: "15 minutes" }).pipe(
          Effect.asVoid,
          Effect.mapError((e) =>
            new LaunchError({
              code: e.code === "docker_unavailable" ? e.code : "image_missing",
              message: `image ${image} is not present and cannot be pulled: ${e.message}`
            })
          )
        )
      }),
      Effect.mapError((e) => e._tag === "DockerError" ? toLaunchError(e) : e)
    )

  /** Best effort, idempotent, never fails: used by stop, by the finalizer, twice is fine. */
  const remove = (name: string) => Effect.ignore(cli.execRaw(["rm", "-f", name], { timeout: "60 seconds" }))

  /** By default the container runs as the work directory's owner (see DockerBackendOptions.user). */
  const userOf = (workDir: string) =>
    options.user !== undefined
      ? Effect.succeed(options.user)
      : fs.stat(workDir).pipe(
        Effect.map((st) => `${Option.getOrElse(st.uid, () => 0)}:${Option.getOrElse(st.gid, () => 0)}`),
        Effect.orElseSucceed(() => `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`)
      )

  const runArgs = (spec: LaunchSpec, name: string, cidfile: string, image: string, user: string): Array<string> => {
    const args = [
      "run", "-d",
      "--name", name,
      "--label", `${nodeLabel}=${spec.nodeId}`,
      "--label", `${testLabel}=${spec.testId}`,
      "--cidfile", cidfile,
      // `--mount`, not `-v`: a path with `:` stays one path, and a missing source is an error
      // instead of a root-owned directory docker would create.
      "--mount", mountSpec(spec.workDir),
      "--workdir", dockerWorkMount,
      "--network", options.network ?? "host",
      "--init",
      "--cap-drop", "ALL",
      "--security-opt", "no-new-privileges",
      // No `--pull never`: ensureImage has settled that, and CLIs before 20.10 lack the flag.
      "--pids-limit", String(options.pidsLimit ?? 16384)
    ]
    for (const cap of options.capAdd ?? []) args.push("--cap-add", cap)
    if (user !== "image") args.push("--user", user)
    if (spec.limits?.cpus !== undefined) args.push("--cpus", String(spec.limits.cpus))
    if (spec.limits?.memoryMb !== undefined) args.push("--memory", `${Math.ceil(spec.limits.memoryMb)}m`)
    // `-e NAME` without a value takes it from the CLI's environment: values stay out of `ps`.
    for (const key of Object.keys(spec.env)) args.push("--env", key)
    args.push(image, ...spec.argv)
    return args
  }

  return {
    name: "docker",
    toolWorkDir: () => dockerWorkMount,
    available: cli.exec(["version", "--format", "{{.Server.Version}}"], { timeout: "10 seconds" }).pipe(
      Effect.as(true),
      Effect.orElseSucceed(() => false)
    ),
    launch: Effect.fnUntraced(function*(spec: LaunchSpec) {
      const image = spec.image
      if (image === undefined || image === "") {
        return yield* new LaunchError({ code: "launch_failed", message: "the docker runner needs an image" })
      }
      // `-e NAME` would read `A=B` as a name with a value: refuse names docker cannot pass.
      const badName = Object.keys(spec.env).find((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      if (badName !== undefined) {
        return yield* new LaunchError({ code: "launch_failed", message: `environment name ${JSON.stringify(badName)} cannot be passed to a container` })
      }
      const suffix = randomBytes(4).toString("hex")
      const name = containerName(spec, suffix)
      // In the work directory, so whatever removes that (the test's cleanup, or the orphan
      // sweep after a SIGKILL) removes the cidfile too. `docker run` wants it not to exist.
      const cidfile = `${spec.workDir}/.grid-${suffix}.cid`
      // Registered before anything is created: whatever happens next, the container goes.
      yield* Effect.addFinalizer(() =>
        Effect.ignore(cli.execRaw(["stop", "-t", graceSeconds(forcedGrace), name], {
          timeout: Duration.sum(forcedGrace, Duration.seconds(30))
        })).pipe(
          Effect.andThen(remove(name)),
          Effect.andThen(Effect.ignore(fs.remove(cidfile, { force: true })))
        )
      )
      yield* ensureImage(image)
      const user = yield* userOf(spec.workDir)
      const run = yield* cli.exec(runArgs(spec, name, cidfile, image, user), { env: spec.env, timeout: "2 minutes" }).pipe(
        Effect.mapError(toLaunchError)
      )
      // The container sees the work directory: read the cidfile only as a regular file inside it.
      const fromCidfile = yield* Effect.sync(() => {
        try {
          return readInside(cidfile, spec.workDir, 256) ?? ""
        } catch {
          return ""
        }
      })
      const containerId = run.stdout.trim() || fromCidfile.trim() || name

      const onLine = spec.onLine
      const pump = <E>(stream: Stream.Stream<Uint8Array, E>, which: "stdout" | "stderr") =>
        stream.pipe(
          Stream.decodeText(),
          Stream.splitLines,
          Stream.runForEach((line) => Effect.sync(() => onLine?.(which, line))),
          Effect.ignore
        )
      const logs = yield* cli.spawn(["logs", "--follow", containerId]).pipe(Effect.mapError(toLaunchError))
      const pumps = yield* Effect.all([pump(logs.stdout, "stdout"), pump(logs.stderr, "stderr")], {
        concurrency: 2,
        discard: true
      }).pipe(Effect.forkScoped)

      const exited = yield* Deferred.make<ToolExit>()
      yield* cli.exec(["wait", containerId], { timeout: Duration.infinity }).pipe(
        Effect.map((r) => {
          const code = Number.parseInt(r.stdout.trim(), 10)
          return Number.isNaN(code) ? { exitCode: null, signal: null } : toExit(code)
        }),
        Effect.orElseSucceed((): ToolExit => ({ exitCode: null, signal: null })),
        Effect.flatMap((exit) => Deferred.succeed(exited, exit)),
        Effect.forkScoped
      )
      const exit: Effect.Effect<ToolExit> = Deferred.await(exited).pipe(
        // `logs -f` ends when the container stops; waiting for it keeps the last lines.
        Effect.tap(() => Effect.ignore(Effect.timeout(Fiber.await(pumps), "2 seconds")))
      )
      const running: RunningTool = {
        ref: { containerId },
        what: `container ${containerId}`,
        exit,
        stop: (grace) =>
          Effect.ignore(cli.execRaw(["stop", "-t", graceSeconds(grace), containerId], {
            timeout: Duration.sum(grace, Duration.seconds(30))
          })).pipe(
            Effect.andThen(Effect.ignore(Effect.timeout(exit, "10 seconds"))),
            Effect.andThen(remove(containerId))
          ),
        gone: containerGone(containerId).pipe(Effect.provideService(DockerCli, cli))
      }
      return running
    })
  }
}

/** Whether no container with this id (or name) exists any more, in any state: for the
 * test's cleanup report. An engine that does not answer counts as "not known gone". */
export const containerGone = (containerId: string): Effect.Effect<boolean, never, DockerCli> =>
  Effect.flatMap(DockerCli, (cli) =>
    cli.exec(["ps", "-aq", "--no-trunc", "--filter", `id=${containerId}`], { timeout: "30 seconds" }).pipe(
      Effect.map((r) => r.stdout.trim() === ""),
      Effect.orElseSucceed(() => false)
    ))
