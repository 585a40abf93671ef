// `grid daemon`: the long-running node agent. Flags (each with a GRID_* env fallback) become
// DaemonSettings; GridDaemon.layer does the work. SIGTERM/SIGINT stop it gracefully (tests
// stopped with their grace, terminal events published, heartbeat deleted, exit 0); a second
// signal skips the grace.
import { Clock, Config, type Duration, Effect, Option, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { defaultSettings } from "../daemon/DaemonConfig.ts"
import { parseAllowList } from "../engine/TargetAllowList.ts"
import { GridDaemon } from "../daemon/GridDaemon.ts"
import { isId, sanitizeId } from "../protocol/names.ts"
import { onInterrupt } from "./exitCode.ts"
import { trimAfterStart } from "./idleTrim.ts"
import { natsAuthOf, natsFlags, parseDuration, parseHostPort, stringFlag } from "./flags.ts"
import { type LogFormat, logFormatFlag, logFormatLayer, plainLine } from "./logFormat.ts"
import { otlpEndpointFlag, tracingLayer } from "./tracing.ts"

const fatal = (format: LogFormat, message: string, code: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.sync(() => {
      process.stderr.write(`${plainLine(format, "FATAL", `grid daemon: ${message}`, now)}\n`)
      process.exitCode = code
      onInterrupt.exitCode = code
    }))

export class FlagError extends Schema.TaggedError<FlagError>()("FlagError", { message: Schema.String }) {}

const durationFlag = (name: string, description: string) => stringFlag(name, `${description}, e.g. 5s, 500ms, 2m`)

const flags = {
  ...natsFlags,
  nodeId: stringFlag("node-id", "This node's id (default: the hostname, sanitised)"),
  gridId: stringFlag("grid-id", "The grid this node belongs to (default: default)"),
  workDir: stringFlag("work-dir", "Root of the tests' work directories (default: <tmp>/grid)"),
  heartbeatInterval: durationFlag("heartbeat-interval", "Heartbeat interval (default 5s)"),
  nodeTtl: durationFlag("node-ttl", "TTL of the grid_nodes bucket when this node creates it (default 15s)"),
  capacity: Flag.Int("capacity").pipe(Flag.withDescription("Tests run at once (env GRID_CAPACITY, default 1)"), Flag.withFallbackConfig(Config.Int("GRID_CAPACITY")), Flag.optional),
  defaultRunner: stringFlag("default-runner", "Runner when a command names none: process or docker (default process)"),
  stopGrace: durationFlag("stop-grace", "Time a tool gets between SIGTERM and SIGKILL (default 10s)"),
  maxDuration: durationFlag("max-duration", "Node-wide bound on a test's duration (default 24h)"),
  controlLossTimeout: durationFlag("control-loss-timeout", "Stop every test (reason control_lost) once NATS has been unreachable this long; 0: never (default 2m)"),
  resultsTimeout: durationFlag("results-timeout", "How long a tool's result file may take to appear (default 60s)"),
  channel: stringFlag("channel", "Release channel advertised in heartbeats (default stable)"),
  label: Flag.KeyValuePair("label").pipe(Flag.withDescription("A k=v label advertised in heartbeats (repeatable)"), Flag.optional),
  toolPath: Flag.KeyValuePair("tool-path").pipe(
    Flag.withDescription("Where a tool's executable is when not on PATH, e.g. jmeter=/opt/jmeter/bin/jmeter (repeatable)"),
    Flag.optional
  ),
  logFormat: logFormatFlag,
  otlpEndpoint: otlpEndpointFlag,
  httpAddr: stringFlag("http-addr", "host:port where /healthz, /readyz and /metrics (Prometheus) are served, e.g. 127.0.0.1:9464 (default: off)"),
  allowTarget: Flag.String("allow-target").pipe(
    Flag.withDescription("Only send load to this host, host:port, IP, CIDR or *.domain (repeatable; default: anywhere, with a warning)"),
    Flag.atLeast(0)
  ),
  allowTools: Flag.String("allow-tools").pipe(
    Flag.withDescription("Tools whose targets grid cannot check (jmeter, locust, k6, gatling, artillery, command) run anyway under --allow-target (repeatable or comma-separated)"),
    Flag.atLeast(0)
  ),
  maxCommandBytes: Flag.Int("max-command-bytes").pipe(Flag.withDescription("Larger commands are rejected (default 1048576)"), Flag.optional),
  engineWorkers: Flag.Int("engine-workers").pipe(
    Flag.withDescription("Built-in engine processes per test that names none (params.workers, the scenario's load.workers); default: the cores available, bounded by the cgroup's CPU quota"),
    Flag.optional
  )
}

export const daemonCommand = Command.make("daemon", flags, (f) =>
  Effect.gen(function*() {
    const dur = (name: string, value: Option.Option<string>, fallback: Duration.Duration) =>
      Option.match(value, {
        onNone: () => Effect.succeed(fallback),
        onSome: (text) => {
          const d = parseDuration(text)
          return d ? Effect.succeed(d) : Effect.fail(new FlagError({ message: `--${name}: cannot read ${JSON.stringify(text)} as a duration` }))
        }
      })
    const defaults = defaultSettings()
    const nodeId = Option.getOrElse(f.nodeId, () => defaults.nodeId)
    const gridId = Option.getOrElse(f.gridId, () => defaults.gridId)
    if (!isId(nodeId)) return yield* new FlagError({ message: `--node-id ${JSON.stringify(nodeId)}: must be 1-64 of A-Z a-z 0-9 _ - (try ${sanitizeId(nodeId)})` })
    if (!isId(gridId)) return yield* new FlagError({ message: `--grid-id ${JSON.stringify(gridId)}: must be 1-64 of A-Z a-z 0-9 _ -` })
    const runner = Option.getOrElse(f.defaultRunner, () => "process")
    if (runner !== "process" && runner !== "docker") return yield* new FlagError({ message: `--default-runner must be process or docker` })
    const capacity = Option.getOrElse(f.capacity, () => 1)
    if (capacity < 1) return yield* new FlagError({ message: `--capacity must be at least 1` })
    const httpAddr = Option.isSome(f.httpAddr) ? parseHostPort(f.httpAddr.value) : undefined
    if (httpAddr === null) return yield* new FlagError({ message: `--http-addr ${JSON.stringify(Option.getOrElse(f.httpAddr, () => ""))}: must be host:port, e.g. 127.0.0.1:9464` })
    const engineWorkers = Option.getOrUndefined(f.engineWorkers)
    if (engineWorkers !== undefined && engineWorkers < 1) return yield* new FlagError({ message: `--engine-workers ${engineWorkers}: must be at least 1` })
    const allowTargets = f.allowTarget.length === 0 ? undefined : parseAllowList(f.allowTarget)
    if (allowTargets !== undefined && "problems" in allowTargets) return yield* new FlagError({ message: `--allow-target ${allowTargets.problems.join("; ")}` })
    const settings = defaultSettings({
      httpAddr,
      allowTargets,
      engineWorkers,
      allowTools: f.allowTools.flatMap((t) => t.split(",").map((s) => s.trim()).filter((s) => s !== "")),
      natsUrl: f.natsUrl,
      nats: natsAuthOf(f),
      streamReplicas: Option.getOrUndefined(f.streamReplicas),
      nodeId,
      gridId,
      workDir: Option.getOrElse(f.workDir, () => defaults.workDir),
      subjectPrefix: f.subjectPrefix,
      heartbeatInterval: yield* dur("heartbeat-interval", f.heartbeatInterval, defaults.heartbeatInterval),
      nodeTtl: yield* dur("node-ttl", f.nodeTtl, defaults.nodeTtl),
      capacity,
      defaultRunner: runner,
      stopGrace: yield* dur("stop-grace", f.stopGrace, defaults.stopGrace),
      maxDuration: yield* dur("max-duration", f.maxDuration, defaults.maxDuration),
      resultsTimeout: yield* dur("results-timeout", f.resultsTimeout, defaults.resultsTimeout),
      controlLossTimeout: yield* dur("control-loss-timeout", f.controlLossTimeout, defaults.controlLossTimeout),
      channel: Option.getOrElse(f.channel, () => defaults.channel),
      labels: Option.getOrElse(f.label, () => ({})),
      maxCommandBytes: Option.getOrElse(f.maxCommandBytes, () => defaults.maxCommandBytes),
      toolPaths: Option.getOrElse(f.toolPath, () => ({}))
    })
    onInterrupt.exitCode = 0
    // runMain turns the first SIGINT/SIGTERM into interruption (graceful shutdown); a second
    // one while shutting down skips the tests' remaining grace. The handlers are installed
    // outside the daemon's layer so they outlive it during its shutdown.
    const force: { run: Effect.Effect<void> } = { run: Effect.void }
    let signals = 0
    const onSignal = () => {
      signals++
      if (signals >= 2) Effect.runFork(force.run)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("SIGTERM", onSignal)
        process.on("SIGINT", onSignal)
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGTERM", onSignal)
          process.off("SIGINT", onSignal)
        })
    )
    yield* Effect.gen(function*() {
      const daemon = yield* GridDaemon
      force.run = daemon.force
      // The node is up: drop what starting it left behind (src/cli/idleTrim.ts).
      yield* Effect.forkScoped(trimAfterStart)
      yield* daemon.done
    }).pipe(
      Effect.provide(GridDaemon.layer(settings)),
      // Outside the node: its spans are all exported, and the last ones flushed after it stopped.
      Effect.provide(tracingLayer(f.otlpEndpoint, { serviceName: "grid-daemon", attributes: { "service.instance.id": nodeId, "grid.grid_id": gridId } }))
    )
  }).pipe(
    Effect.scoped,
    // What stops the daemon is said in one line, without a stack: the flag as typed, or the
    // component and its reason (a refused authentication, an unreachable server).
    Effect.catchTags({
      FlagError: (e) => fatal(f.logFormat, e.message, 2),
      DaemonError: (e) => fatal(f.logFormat, e.message, 1)
    }),
    Effect.provide(logFormatLayer(f.logFormat))
  )
).pipe(
  Command.withDescription("Run the grid node agent: take commands over NATS, run tests, report"),
  Command.withExamples([
    { command: "grid daemon --node-id node-1", description: "A node on the local NATS server (nats://127.0.0.1:4222)" },
    { command: "GRID_NATS_URL=nats://nats.example:4222 grid daemon --node-id lg-1 --label zone=eu --capacity 2", description: "Settings from the environment and flags" }
  ])
)
