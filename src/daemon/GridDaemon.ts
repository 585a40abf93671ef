// The grid node as one Layer: NATS connection, JetStream assets, event outbox, heartbeat
// registry, runner backends, test manager, and the component fibers (control listener,
// health reporter) under one supervisor. Any component failing ends `done` with a typed
// error; closing the layer's scope shuts down in order: stop accepting and stop the tests
// (with their grace), publish their terminal events, delete the heartbeat, drain NATS.
import { Context, Duration, Effect, FileSystem, Layer, Path, Schema } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { controlListener } from "../control/ControlListener.ts"
import { healthReporter } from "../health/HealthReporter.ts"
import { NodeRegistry } from "../health/NodeRegistry.ts"
import { ensureAssets, ensureNodeConsumer } from "../nats/JetStreamAssets.ts"
import { NatsConnection } from "../nats/NatsConnection.ts"
import { natsControlSourceLayer } from "../nats/NatsControlSource.ts"
import { natsEventSinkLayer } from "../nats/NatsEventSink.ts"
import { natsNodeRegistryLayer } from "../nats/NatsNodeRegistry.ts"
import { natsResultTransportLayer } from "../nats/NatsResultTransport.ts"
import { redactUrl } from "../nats/natsUrl.ts"
import { assets as assetNames, consumerName, subjects as subjectNames } from "../protocol/names.ts"
import { Backends } from "../runner/Backends.ts"
import { DockerCli } from "../runner/DockerCli.ts"
import { EventSink } from "../runner/EventSink.ts"
import { OrphanSweep } from "../runner/OrphanSweep.ts"
import { ResultIngest } from "../runner/ResultIngest.ts"
import { TestJournal, reportRestartedTests } from "../runner/TestJournal.ts"
import { TestManager } from "../runner/TestManager.ts"
import { nodeWorkRoot } from "../runner/WorkDir.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import type { DaemonSettings } from "./DaemonConfig.ts"
import { makeSupervisor } from "./Supervisor.ts"

export class DaemonError extends Schema.TaggedError<DaemonError>()("DaemonError", {
  component: Schema.String,
  message: Schema.String
}) {}

export class GridDaemon extends Context.Service<GridDaemon, {
  readonly nodeId: string
  /** Fails when a component fails; succeeds when a `drain` has finished every test. */
  readonly done: Effect.Effect<void, DaemonError>
  /** Second shutdown signal: skip what is left of the tests' grace. */
  readonly force: Effect.Effect<void>
}>()("grid/daemon/GridDaemon") {
  static readonly layer = (settings: DaemonSettings) => Layer.effect(GridDaemon, make(settings))
}

const make = (settings: DaemonSettings) =>
  Effect.gen(function*() {
    // Registered first, so it runs last: everything below has been released by then. Only a
    // node that came up says it stopped: a failed start is told by its error alone.
    let up = false
    yield* Effect.addFinalizer(() => (up ? Effect.logInfo(`grid node ${settings.nodeId} stopped`) : Effect.void))
    const subjects = subjectNames(settings.subjectPrefix)
    const assets = assetNames(settings.subjectPrefix)
    const fail = (component: string) => (e: { message: string }) =>
      new DaemonError({ component, message: e.message })

    const nats = yield* Layer.build(
      NatsConnection.layer({ url: settings.natsUrl, auth: settings.nats, name: `grid-node-${settings.nodeId}` })
    ).pipe(Effect.mapError(fail("nats")))
    const { kv, bucketTtlMs } = yield* ensureAssets(assets, subjects, settings.nodeTtl).pipe(
      Effect.provideContext(nats),
      Effect.mapError(fail("nats"))
    )
    if (bucketTtlMs > 0 && Duration.toMillis(settings.heartbeatInterval) > bucketTtlMs / 3) {
      yield* Effect.logWarning(
        `heartbeat interval ${Duration.format(settings.heartbeatInterval)} is more than a third of the ${assets.nodes} bucket's TTL (${bucketTtlMs} ms): controllers may see this node as lost between heartbeats`
      )
    }
    // What an earlier life of this node left (killed with SIGKILL: no finalizer ran):
    // containers, tool processes, work directories. Nothing runs yet, so all of it goes.
    const docker = yield* Layer.build(DockerCli.layer())
    const sweeper = yield* Layer.build(OrphanSweep.layer).pipe(Effect.provideContext(docker))
    const orphans = Context.get(sweeper, OrphanSweep)
    const workRoot = nodeWorkRoot(settings)
    const swept = yield* orphans.sweep({ nodeId: settings.nodeId, running: new Set(), workRoot })
    for (const r of swept.removed) yield* Effect.logInfo(`removed leftover ${r}`)
    for (const e of swept.errors) yield* Effect.logWarning(`leftover not removed: ${e}`)

    // Built in this order so that releasing runs the reverse: tests stop (manager) before
    // the heartbeat key is deleted (registry), before the outbox is flushed (events),
    // before NATS drains.
    const base = yield* Layer.build(
      Layer.mergeAll(
        natsEventSinkLayer(subjects, settings.flushTimeout),
        natsNodeRegistryLayer(kv),
        natsControlSourceLayer(assets.control, consumerName(settings.nodeId), ensureNodeConsumer(assets, subjects, settings.nodeId)),
        ToolRegistry.layerWith(settings.toolPaths),
        ResultIngest.layer({ nodeId: settings.nodeId, windowMs: settings.windowMs, appearTimeout: settings.resultsTimeout }).pipe(
          Layer.provide(natsResultTransportLayer(subjects))
        ),
        Backends.layer({ forcedGrace: settings.stopGrace }).pipe(Layer.provide(Layer.succeedContext(docker))),
        TestJournal.layer(workRoot)
      ).pipe(Layer.provide(Layer.succeedContext(nats)))
    )
    // Tests an earlier life accepted and never ended (it was killed): their terminal event,
    // from the journal, with what the sweep above removed of them. Before any new command.
    yield* reportRestartedTests(settings.nodeId, Context.get(base, TestJournal), Context.get(base, EventSink), swept.byTest)
    const registry = Context.get(base, NodeRegistry)
    yield* Effect.addFinalizer(() =>
      registry.remove(settings.nodeId).pipe(Effect.tapError((e) => Effect.logWarning(e.message)), Effect.ignore)
    )
    const ctx = yield* Layer.build(TestManager.layer(settings)).pipe(Effect.provideContext(base), Effect.map((m) => Context.merge(base, m)))
    const manager = Context.get(ctx, TestManager)

    yield* orphans.periodic(
      Effect.map(manager.running, (ids) => ({ nodeId: settings.nodeId, running: new Set(ids), workRoot })),
      settings.sweepInterval
    )
    const supervisor = yield* makeSupervisor
    yield* supervisor.add("health", Effect.provideContext(healthReporter(settings), ctx))
    yield* supervisor.add("control", Effect.provideContext(controlListener(settings), ctx))
    // Registered last, so it runs first on shutdown: stop accepting, stop the tests.
    yield* Effect.addFinalizer(() => manager.shutdown("daemon shutdown"))
    yield* Effect.logInfo(`grid node ${settings.nodeId} up (grid ${settings.gridId}, NATS ${redactUrl(settings.natsUrl)})`)
    up = true

    return GridDaemon.of({
      nodeId: settings.nodeId,
      done: Effect.raceFirst(
        supervisor.failed.pipe(Effect.mapError((e) => new DaemonError({ component: e.component, message: e.message }))),
        manager.drained
      ),
      force: manager.force
    })
  })

export type DaemonRequirements = FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
