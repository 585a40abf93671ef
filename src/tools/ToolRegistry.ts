// The tool adapters this node knows, and which of them are usable right now with which
// runner (the heartbeat's `tools`).
import { Context, Effect, Layer } from "effect"
import type { ToolName } from "../protocol/commands.ts"
import type { RunnerName } from "../runner/Backend.ts"
import { builtinTool } from "./builtin.ts"
import { commandTool } from "./command.ts"
import { loadToolAdapters } from "./loadToolAdapters.ts"
import type { ToolAdapter } from "./Tool.ts"

/** What a live flag changes of a tool for one test (`tools.<tool>.path`). */
export interface ToolOverride {
  readonly path?: string | undefined
}

export class ToolRegistry extends Context.Service<ToolRegistry, {
  /** The adapter; with an override, one built for it (a load tool run from another binary). */
  readonly get: (name: ToolName, override?: ToolOverride) => ToolAdapter | undefined
  /** Tools usable with at least one of the given runners (a tool's override, when given: its
   * binary by the live flag `tools.<tool>.path`). */
  readonly usable: (runners: ReadonlyArray<RunnerName>, overrides?: Readonly<Partial<Record<ToolName, ToolOverride>>>) => Effect.Effect<ReadonlyArray<ToolName>>
}>()("grid/tools/ToolRegistry") {
  static readonly make = (
    adapters: ReadonlyArray<ToolAdapter>,
    rebuild?: (name: ToolName, override: ToolOverride) => ToolAdapter | undefined
  ) =>
    ToolRegistry.of({
      get: (name, override) =>
        (override?.path !== undefined ? rebuild?.(name, override) : undefined) ?? adapters.find((a) => a.name === name),
      usable: (runners, overrides = {}) =>
        Effect.map(
          Effect.forEach(adapters, (base) => {
            const override = overrides[base.name]
            const a = (override?.path !== undefined ? rebuild?.(base.name, override) : undefined) ?? base
            return Effect.map(
              Effect.forEach(runners, (r) => a.available(r)),
              (oks) => (oks.some(Boolean) ? [a.name] : [])
            )
          }),
          (names) => names.flat()
        )
    })

  /** The tools a node has: the built-in engine, any command, and the load tools, found on
   * PATH or at the configured paths (`{ jmeter: "/opt/jmeter/bin/jmeter" }`). */
  static readonly layerWith = (toolPaths: Readonly<Record<string, string>> = {}) => {
    const settings = Object.fromEntries(Object.entries(toolPaths).map(([tool, path]) => [tool, { command: [path] }]))
    return Layer.succeed(
      ToolRegistry,
      ToolRegistry.make(
        [builtinTool, commandTool, ...loadToolAdapters(settings)],
        (name, override) => loadToolAdapters({ ...settings, [name]: { command: [override.path!] } }).find((a) => a.name === name)
      )
    )
  }

  static readonly layer = ToolRegistry.layerWith()
}
