// A node without NATS for tests: the grid node itself (src/daemon/GridNode.ts, the one Layer
// `grid daemon` and `grid run` use) over the memory ports of src/daemon/LocalNode.ts, with the
// process backend, no orphan sweep and a fresh work root. Tests reach in through what the
// layer exposes: TestManager (commands handled directly), MemoryEvents (what was published),
// LocalControl (commands as the bytes a controller would send).
import { NodeServices } from "@effect/platform-node"
import { Context, Duration, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type DaemonSettings, defaultSettings } from "../../src/daemon/DaemonConfig.ts"
import { GridNode } from "../../src/daemon/GridNode.ts"
import { NodeRegistry } from "../../src/health/NodeRegistry.ts"
import { memoryPorts } from "../../src/daemon/LocalNode.ts"
import { Backends } from "../../src/runner/Backends.ts"
import { OrphanSweep } from "../../src/runner/OrphanSweep.ts"
import { ProcessBackend } from "../../src/runner/ProcessBackend.ts"

// Every work root of a test file lives in one folder, removed after the file's tests
// (test/support/setup.ts).
let parent: string | undefined
export const tempWorkRoot = () => {
  parent ??= fs.mkdtempSync(path.join(os.tmpdir(), "grid-test-"))
  return fs.mkdtempSync(path.join(parent, "root-"))
}
export const removeTempWorkRoots = () => {
  if (parent !== undefined) fs.rmSync(parent, { recursive: true, force: true })
  parent = undefined
}

/** The memory control bus of a memoryNode: a command published as a controller would. */
export class LocalControl extends Context.Service<LocalControl, {
  readonly send: (command: Record<string, unknown>) => Effect.Effect<void>
}>()("grid/test/LocalControl") {}

/** `registry`: where the node's heartbeats go (by default nowhere), e.g. NodeRegistry.memory. */
export const memoryNode = (overrides: Partial<DaemonSettings> = {}, registry?: Layer.Layer<NodeRegistry>) => {
  const settings = defaultSettings({ nodeId: "mem-node", stopGrace: Duration.seconds(2), workDir: tempWorkRoot(), ...overrides })
  const layer = Layer.unwrap(Effect.map(memoryPorts, (ports) =>
    GridNode.layer(settings).pipe(
      Layer.provideMerge(Layer.mergeAll(
        ports.layer,
        registry ?? NodeRegistry.discard,
        Layer.succeed(LocalControl, LocalControl.of({ send: ports.send }))
      )),
      Layer.provideMerge(Layer.mergeAll(
        Backends.processOnly.pipe(Layer.provide(ProcessBackend.layer({ forcedGrace: "2 seconds" }))),
        OrphanSweep.none
      )),
      Layer.provideMerge(NodeServices.layer)
    )
  )).pipe(Layer.orDie)
  return { settings, layer }
}
