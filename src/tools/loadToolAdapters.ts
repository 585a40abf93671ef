// The load-tool adapters (jmeter, locust, k6, artillery, gatling) built from the node's
// configuration: each tool's command line (PATH lookup of its usual name by default, or a
// configured path / wrapper such as a JMeter launcher) and its docker image. The
// ToolRegistry lists these beside `builtin` and `command`.
import { makeArtilleryTool } from "./artillery.ts"
import { makeGatlingTool } from "./gatling.ts"
import { makeJmeterTool } from "./jmeter.ts"
import { makeK6Tool } from "./k6.ts"
import { makeLocustTool } from "./locust.ts"
import type { ToolAdapter } from "./Tool.ts"

export interface LoadToolSettings {
  /** argv that starts the tool on this node, e.g. `["/opt/jmeter/bin/jmeter"]`. */
  readonly command?: ReadonlyArray<string> | undefined
  /** Default image for the docker runner (its entrypoint must be the tool). */
  readonly image?: string | undefined
}

export type LoadToolName = "jmeter" | "locust" | "k6" | "artillery" | "gatling"

export const loadToolAdapters = (
  settings: Partial<Record<LoadToolName, LoadToolSettings>> = {}
): ReadonlyArray<ToolAdapter> => [
  makeJmeterTool(settings.jmeter),
  makeLocustTool(settings.locust),
  makeK6Tool(settings.k6),
  makeArtilleryTool(settings.artillery),
  makeGatlingTool(settings.gatling)
]
