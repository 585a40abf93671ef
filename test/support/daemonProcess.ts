// Real `grid daemon` processes for Effect tests (signals, exit codes, restarts): each one is a
// scoped resource, SIGTERMed and waited for when its scope closes (SIGKILLed if it does not
// end), so a failed assertion never leaves a daemon heartbeating into the next test.
import { type Duration, Effect, type Scope } from "effect"
import { spawn, type SpawnOptions } from "node:child_process"
import type { Heartbeat } from "../../src/protocol/health.ts"
import { type DaemonProcess, spawnDaemon } from "./daemon.ts"
import { tempWorkRoot } from "./memoryNode.ts"
import { TestNats } from "./natsServer.ts"
import { waitUntil, WireClient } from "./WireClient.ts"

export type { DaemonProcess } from "./daemon.ts"

/** The process's exit code, once it exited (at once if it already has). */
export const exitOf = (d: DaemonProcess): Effect.Effect<number | null> => Effect.promise(() => d.exited)

const running = (d: DaemonProcess) => d.child.exitCode === null && d.child.signalCode === null

/** SIGTERM (when still running), then its exit code; SIGKILL if it has not ended after 30 s. */
export const stopDaemon = (d: DaemonProcess): Effect.Effect<number | null> =>
  Effect.suspend(() => {
    if (running(d)) d.child.kill("SIGTERM")
    return exitOf(d).pipe(
      Effect.timeoutOrElse({
        duration: "30 seconds",
        orElse: () => Effect.flatMap(Effect.sync(() => d.child.kill("SIGKILL")), () => exitOf(d))
      })
    )
  })

/** A `grid daemon` process with exactly these arguments, stopped with the scope; not waited for. */
export const spawnDaemonScoped = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<DaemonProcess, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(() => spawnDaemon(args, env)), stopDaemon)

/** Any daemon-like command (the built binary, an installed package's bin, npm), its output
 * captured, stopped with the scope like a daemon. */
export const spawnCommandScoped = (
  file: string,
  args: ReadonlyArray<string>,
  options: Pick<SpawnOptions, "cwd" | "env"> = {}
): Effect.Effect<DaemonProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync((): DaemonProcess => {
      const child = spawn(file, args, { ...options, stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      child.stdout!.on("data", (d) => (out += d))
      child.stderr!.on("data", (d) => (out += d))
      const exited = new Promise<number | null>((resolve) =>
        child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", (code) => resolve(code)))
      return { child, output: () => out, exited }
    }),
    stopDaemon
  )

export interface LaunchOptions {
  /** Its --work-dir; a fresh temp root when missing. */
  readonly workDir?: string
  /** Its --stop-grace; the daemon's own default when missing. */
  readonly stopGrace?: string
  /** More flags (a subject prefix, labels, an HTTP address). */
  readonly args?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  /** When the daemon counts as up; by default, as soon as its heartbeat is read. */
  readonly ready?: (heartbeat: Heartbeat) => boolean
  readonly timeout?: Duration.Input
}

export interface LaunchedDaemon extends DaemonProcess {
  readonly workDir: string
}

/** A real `grid daemon` of the suite's server (500 ms heartbeats), up once its heartbeat is read
 * (dies with its output if it exits first); stopped with the scope. */
export const launchDaemon = Effect.fn("test.daemonProcess.launch")(function*(nodeId: string, options: LaunchOptions = {}) {
  const nats = yield* TestNats
  const client = yield* WireClient
  const workDir = options.workDir ?? tempWorkRoot()
  const args = [
    "--nats-url", nats.url, "--node-id", nodeId, "--work-dir", workDir, "--heartbeat-interval", "500ms",
    ...(options.stopGrace === undefined ? [] : ["--stop-grace", options.stopGrace]),
    ...(options.args ?? [])
  ]
  const d = yield* spawnDaemonScoped(args, options.env)
  const ready = options.ready ?? (() => true)
  const exitedEarly = Effect.flatMap(exitOf(d), (code) => Effect.die(new Error(`daemon ${nodeId} exited ${code}: ${d.output()}`)))
  const up = waitUntil(`heartbeat of ${nodeId}`, Effect.map(client.heartbeat(nodeId), (hb) => hb !== undefined && ready(hb)), options.timeout ?? "20 seconds")
  yield* Effect.raceFirst(up, exitedEarly).pipe(Effect.orDie)
  return { ...d, workDir } satisfies LaunchedDaemon
})
