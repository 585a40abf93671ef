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
import type { ToolSettings } from "./adapterSupport.ts"

export type LoadToolName = "jmeter" | "locust" | "k6" | "artillery" | "gatling"

export const loadToolAdapters = (
  settings: Partial<Record<LoadToolName, ToolSettings>> = {}
): ReadonlyArray<ToolAdapter> => [
  makeJmeterTool(settings.jmeter),
  makeLocustTool(settings.locust),
  makeK6Tool(settings.k6),
  makeArtilleryTool(settings.artillery),
  makeGatlingTool(settings.gatling)
]
