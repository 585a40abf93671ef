// `grid daemon`'s node: the grid node (GridNode.ts) over its NATS ports, with both runner
// backends (processes, and docker containers while an engine answers) and the orphan sweep.
// This is the Layer a program embeds to run a node. A failure to start (NATS unreachable, an
// authentication refused, JetStream missing) is a DaemonError naming the component.
import { Context, Effect, type FileSystem, Layer, type Path } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { countedEvents } from "../health/EventMetrics.ts"
import { natsNodePorts } from "../nats/NatsNodePorts.ts"
import { redactUrl } from "../nats/natsUrl.ts"
import { Backends } from "../runner/Backends.ts"
import { DockerCli } from "../runner/DockerCli.ts"
import { OrphanSweep } from "../runner/OrphanSweep.ts"
import type { DaemonSettings } from "./DaemonConfig.ts"
import { DaemonError, GridNode } from "./GridNode.ts"

export { DaemonError }

export class GridDaemon extends Context.Service<GridDaemon, GridNode["Service"]>()("grid/daemon/GridDaemon") {
  static readonly layer = (settings: DaemonSettings) =>
    Layer.suspend(() => {
      // "up" once everything is built; "stopped" once everything is released: a node that
      // never came up says only why (its DaemonError).
      let up = false
      const upLine = Layer.effectDiscard(Effect.gen(function*() {
        yield* Effect.logInfo(`grid node ${settings.nodeId} up (grid ${settings.gridId}, NATS ${redactUrl(settings.natsUrl)})`)
        yield* settings.allowTargets === undefined
          ? Effect.logWarning("no --allow-target: this node sends load to any address a start command names")
          : Effect.logInfo(`load only to ${settings.allowTargets.text.join(", ")}; tools whose targets cannot be checked: ${settings.allowTools?.join(", ") || "none"}`)
        up = true
      }))
      const stoppedLine = Layer.effectDiscard(
        Effect.addFinalizer(() => (up ? Effect.logInfo(`grid node ${settings.nodeId} stopped`) : Effect.void))
      )
      // The HTTP endpoints' modules load only when they are asked for (start-up time).
      const http = settings.httpAddr
      const endpoints = http === undefined ? Layer.empty : Layer.unwrap(
        Effect.promise(() => import("./HttpEndpoints.ts")).pipe(Effect.map((m) =>
          m.httpEndpoints({ ...http, nodeId: settings.nodeId, channel: settings.channel, heartbeatInterval: settings.heartbeatInterval })
        ))
      )
      return Layer.effect(GridDaemon, Effect.gen(function*() {
        return yield* GridNode
      })).pipe(
        Layer.provide(Layer.merge(upLine, endpoints)),
        Layer.provide(GridNode.layer(settings)),
        // The tests' lifecycle metrics, read off the events the node publishes.
        Layer.provide(countedEvents),
        Layer.provide(Layer.mergeAll(
          natsNodePorts(settings).pipe(
            Layer.catchTag("NatsError", (e) => Layer.effectContext(Effect.fail(new DaemonError({ component: "nats", message: e.message }))))
          ),
          Backends.layer({ forcedGrace: settings.stopGrace }),
          OrphanSweep.layer
        ).pipe(Layer.provide(DockerCli.layer()))),
        Layer.provide(stoppedLine)
      )
    })
}

export type DaemonRequirements = FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
