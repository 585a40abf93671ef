// The grid node as one Layer, built over its four ports: where commands come from
// (ControlSource), where events go (EventSink), where result windows go (ResultTransport) and
// where heartbeats go (NodeRegistry). `grid daemon` plugs in the NATS ports (GridDaemon.ts),
// `grid run` memory ones (LocalNode.ts); the node itself is composed here and nowhere else.
// An ArtifactStore (src/runner/ArtifactStore.ts), when the ports bring one, keeps the files a
// test leaves (its screenshots) before its work directory goes; without one, none are read.
//
// Building it: sweep what an earlier life left and publish the terminal events it owed (the
// journal), then the test manager, then the workers (control listener, health reporter,
// emergency stop orders, control-loss watch, periodic sweep) as fibers of one FiberSet, whose
// first failure fails `done`. Releasing it runs the reverse: stop accepting and stop the tests
// with their grace (their terminal events go to the sink), stop the workers, delete the
// heartbeat; the ports, built below, go last (the event outbox flushes, NATS drains).
import { Cause, Context, Effect, FiberSet, Layer, Schema } from "effect"
import { controlListener } from "../control/ControlListener.ts"
import { pathTools } from "../flags/FlagRegistry.ts"
import { NodeFlags } from "../flags/NodeFlags.ts"
import { stopOrderListener } from "../control/StopOrders.ts"
import { healthReporter } from "../health/HealthReporter.ts"
import { NodeRegistry } from "../health/NodeRegistry.ts"
import { clip } from "../protocol/bounded.ts"
import { EventSink } from "../runner/EventSink.ts"
import { OrphanSweep } from "../runner/OrphanSweep.ts"
import { ResultIngest } from "../runner/ResultIngest.ts"
import { reportRestartedTests, TestJournal } from "../runner/TestJournal.ts"
import { TestManager } from "../runner/TestManager.ts"
import { nodeWorkRoot } from "../runner/WorkDir.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import { controlLossWatch } from "./ControlLoss.ts"
import type { DaemonSettings } from "./DaemonConfig.ts"

export class DaemonError extends Schema.TaggedError<DaemonError>()("DaemonError", {
  component: Schema.String,
  message: Schema.String
}) {}

export class GridNode extends Context.Service<GridNode, {
  readonly nodeId: string
  /** Fails when a component fails; succeeds when a `drain` has finished every test. */
  readonly done: Effect.Effect<void, DaemonError>
  /** Second shutdown signal: skip what is left of the tests' grace. */
  readonly force: Effect.Effect<void>
}>()("grid/daemon/GridNode") {
  /** The node over whatever ports, backends and sweep are provided. */
  static readonly layer = (settings: DaemonSettings) =>
    workers(settings).pipe(
      Layer.provideMerge(TestManager.layer(settings)),
      // The live flags are read before the test manager exists, so before the first command.
      Layer.provideMerge(nodeFlags(settings)),
      Layer.provideMerge(heartbeatRemoval(settings.nodeId)),
      Layer.provideMerge(recovery(settings)),
      Layer.provideMerge(Layer.mergeAll(
        ToolRegistry.layerWith(settings.toolPaths),
        ResultIngest.layer({ nodeId: settings.nodeId, windowMs: settings.windowMs, appearTimeout: settings.resultsTimeout }),
        TestJournal.layer(nodeWorkRoot(settings))
      ))
    )
}

/** The node's live flags over the FlagStore port (none: its own values and the defaults). Its
 * own --capacity, --default-runner and --tool-path are the values under the bucket's. */
const nodeFlags = (settings: DaemonSettings) =>
  NodeFlags.layer({
    nodeId: settings.nodeId,
    gridId: settings.gridId,
    channel: settings.channel,
    daemonFlags: {
      capacity: settings.capacity,
      // `inprocess` (grid run's node) is no value of runner.default: it stays the node's own.
      ...(settings.defaultRunner === "process" || settings.defaultRunner === "docker" ? { "runner.default": settings.defaultRunner } : {}),
      ...Object.fromEntries(
        Object.entries(settings.toolPaths).filter(([tool]) => (pathTools as ReadonlyArray<string>).includes(tool) || tool === "browser").map(([tool, path]) => [`tools.${tool}.path`, path])
      )
    }
  }).pipe(Layer.catchTag("NodeFlagsError", (e) => Layer.effectContext(Effect.fail(new DaemonError({ component: "flags", message: e.message })))))

/** What an earlier life of this node left (killed: no finalizer ran) is removed, and every
 * test it had accepted gets its terminal event, before any new command is read. */
const recovery = (settings: DaemonSettings) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const swept = yield* (yield* OrphanSweep).sweep({ nodeId: settings.nodeId, running: new Set(), workRoot: nodeWorkRoot(settings) })
    for (const r of swept.removed) yield* Effect.logInfo(`removed leftover ${r}`)
    for (const e of swept.errors) yield* Effect.logWarning(`leftover not removed: ${e}`)
    yield* reportRestartedTests(settings.nodeId, yield* TestJournal, yield* EventSink, swept.byTest)
  }))

/** Built before the test manager, so released after it: the heartbeat goes once no test runs. */
const heartbeatRemoval = (nodeId: string) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const registry = yield* NodeRegistry
    yield* Effect.addFinalizer(() => registry.remove(nodeId).pipe(Effect.tapError((e) => Effect.logWarning(e.message)), Effect.ignore))
  }))

/** A worker's failure (not its interruption) becomes the DaemonError that ends `done`. */
const supervised = <A, E, R>(component: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, DaemonError, R> =>
  effect.pipe(
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause) ? Effect.interrupt : Effect.logError(`component ${component} failed`, cause).pipe(
        Effect.andThen(Effect.fail(new DaemonError({ component, message: clip(oneLine(cause), 1000) })))
      )
    )
  )

/** A failure as the one line a user sees: its message, never its stack (that is logged). */
const oneLine = (cause: Cause.Cause<unknown>): string => {
  const e = Cause.squash(cause)
  const text = e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)
  return text.split("\n")[0] ?? "unknown failure"
}

const workers = (settings: DaemonSettings) =>
  Layer.effect(
    GridNode,
    Effect.gen(function*() {
      const manager = yield* TestManager
      const orphans = yield* OrphanSweep
      const set = yield* FiberSet.make<unknown, DaemonError>()
      const run = FiberSet.run(set)
      yield* run(supervised("health", healthReporter(settings)))
      yield* run(supervised("control", controlListener(settings)))
      yield* run(supervised("stop-orders", stopOrderListener({ nodeId: settings.nodeId, gridId: settings.gridId, channel: settings.channel })))
      yield* run(supervised("control-loss", controlLossWatch(settings.controlLossTimeout)))
      yield* orphans.periodic(
        Effect.map(manager.running, (ids) => ({ nodeId: settings.nodeId, running: new Set(ids), workRoot: nodeWorkRoot(settings) })),
        settings.sweepInterval
      )
      // Registered last, so it runs first on shutdown: stop accepting, stop the tests, while
      // the workers still run (a stop command can still arrive, heartbeats still say draining).
      yield* Effect.addFinalizer(() => manager.shutdown("daemon shutdown"))
      return GridNode.of({
        nodeId: settings.nodeId,
        done: Effect.raceFirst(FiberSet.join(set), manager.drained),
        force: manager.force
      })
    })
  )
