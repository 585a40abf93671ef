// Starting grid daemons for tests: in-process through GridDaemon.layer (the embedding path,
// TestDaemon) or as a real `grid daemon` process (for signals and exit codes; the scoped form
// is in daemonProcess.ts).
import { NodeServices } from "@effect/platform-node"
import { Context, Duration, Effect, Exit, Fiber, Layer, References } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { type DaemonSettings, defaultSettings } from "../../src/daemon/DaemonConfig.ts"
import { GridDaemon } from "../../src/daemon/GridDaemon.ts"
import { tempWorkRoot } from "./memoryNode.ts"
import { TestNats } from "./natsServer.ts"
import { waitUntil, WireClient } from "./WireClient.ts"

/** A daemon of the suite for Effect tests: runs in-process in the layer's scope against the
 * suite's server, up once its heartbeat is read. */
export class TestDaemon extends Context.Service<TestDaemon, {
  readonly settings: DaemonSettings
  /** The daemon's exit, once it ended on its own (drain, failure). */
  readonly ended: Effect.Effect<Exit.Exit<void, unknown>>
  /** Graceful shutdown, as on SIGTERM. */
  readonly stop: Effect.Effect<void>
}>()("grid/test/TestDaemon") {
  static readonly make = Effect.fn("test.daemon.start")(function*(overrides: Partial<DaemonSettings>) {
    const client = yield* WireClient
    const nats = yield* TestNats
    const settings = defaultSettings({
      natsUrl: nats.url,
      workDir: tempWorkRoot(),
      heartbeatInterval: Duration.millis(500),
      stopGrace: Duration.seconds(2),
      flushTimeout: Duration.seconds(5),
      ...overrides
    })
    const fiber = yield* Effect.flatMap(GridDaemon, (d) => d.done).pipe(
      Effect.provide(GridDaemon.layer(settings)),
      Effect.provide(NodeServices.layer),
      // Test output keeps the daemon's warnings and errors, not its info lines.
      Effect.provideService(References.MinimumLogLevel, "Warn"),
      Effect.forkScoped
    )
    const endedEarly = Effect.flatMap(Fiber.await(fiber), (exit) => Effect.die(new Error(`daemon ended at start-up: ${String(exit)}`)))
    yield* Effect.raceFirst(waitUntil(`heartbeat of ${settings.nodeId}`, client.heartbeat(settings.nodeId)), endedEarly).pipe(Effect.orDie)
    return TestDaemon.of({ settings, ended: Fiber.await(fiber), stop: Effect.asVoid(Fiber.interrupt(fiber)) })
  })

  static readonly layer = (overrides: Partial<DaemonSettings>) => Layer.effect(TestDaemon, TestDaemon.make(overrides))
}

const root = path.resolve(import.meta.dirname, "../..")
export const nodeBin = path.join(root, "node_modules/.bin/node")
export const gridMain = path.join(root, "src/cli/main.ts")

export interface DaemonProcess {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

/** A real `grid daemon` process (Node 24), its output captured. */
export const spawnDaemon = (args: ReadonlyArray<string>, env: Record<string, string> = {}): DaemonProcess => {
  const child = spawn(nodeBin, [gridMain, "daemon", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let out = ""
  child.stdout!.on("data", (d) => (out += d))
  child.stderr!.on("data", (d) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, output: () => out, exited }
}

/** Whether any process still has this pid (or this process group, for negative pids). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
