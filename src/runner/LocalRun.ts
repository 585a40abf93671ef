// What `grid run` hands the node it drives on its own machine: the engine's live status
// (users, arrivals, dropped), which its progress line shows beside the node's result windows.
// The in-process engine (the inprocess runner) updates it; a daemon never sets it.
import { Context } from "effect"
import type { EngineStatus } from "../engine/LoadModels.ts"

export interface LocalRunHooks {
  /** The engine's live counters, updated while it runs. */
  readonly status: EngineStatus
  /** `grid run --browser-path`: the Chromium of a browser scenario, over the live flag. */
  readonly browserPath?: string | undefined
}

export const LocalRun = Context.Reference<LocalRunHooks | undefined>("grid/runner/LocalRun", {
  defaultValue: () => undefined
})
