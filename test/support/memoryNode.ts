// A node without NATS for tests: TestManager over the process backend, an in-memory event
// sink, and a fresh work-dir root. The same wiring `grid run` uses.
import { NodeServices } from "@effect/platform-node"
import { Duration, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type DaemonSettings, defaultSettings } from "../../src/daemon/DaemonConfig.ts"
import { Backends } from "../../src/runner/Backends.ts"
import { EventSink, MemoryEvents } from "../../src/runner/EventSink.ts"
import { ProcessBackend } from "../../src/runner/ProcessBackend.ts"
import { ResultIngest } from "../../src/runner/ResultIngest.ts"
import { TestManager } from "../../src/runner/TestManager.ts"
import { ToolRegistry } from "../../src/tools/ToolRegistry.ts"

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

export const memoryNode = (overrides: Partial<DaemonSettings> = {}) => {
  const settings = defaultSettings({ nodeId: "mem-node", stopGrace: Duration.seconds(2), workDir: tempWorkRoot(), ...overrides })
  const base = Layer.mergeAll(
    Backends.processOnly.pipe(Layer.provide(ProcessBackend.layer({ forcedGrace: "2 seconds" }))),
    ToolRegistry.layer,
    ResultIngest.none,
    EventSink.memory
  ).pipe(Layer.provideMerge(MemoryEvents.layer), Layer.provideMerge(NodeServices.layer))
  return { settings, layer: TestManager.layer(settings).pipe(Layer.provideMerge(base)) }
}
