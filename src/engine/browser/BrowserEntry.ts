// Where `grid engine` and the in-process builtin tool start a browser scenario, beside
// runEngine for HTTP ones: the node's allow-list checked before anything (and applied to
// every request the pages make, by host name), the target probed like an HTTP target, then
// the browser engine, loaded only now so an HTTP run never loads Playwright.
import { Effect } from "effect"
import type { SampleSink } from "../../ingest/Sample.ts"
import { EngineError, newStatus, probe } from "../Engine.ts"
import type { EngineStatus } from "../LoadModels.ts"
import { originOf } from "../Origin.ts"
import type { Scenario } from "../Scenario.ts"
import { type AllowList, allowedByName, checkScenario } from "../TargetAllowList.ts"
import type { BrowserOptions } from "./BrowserOptions.ts"

/** Whether a scenario is for the browser engine. */
export const isBrowserScenario = (scenario: Scenario): boolean => scenario.browser !== undefined

/** Runs a browser scenario to the end of its load profile (see BrowserEngine.ts). */
export const runBrowserScenario = (
  scenario: Scenario,
  sink: SampleSink,
  status: EngineStatus = newStatus(),
  allow: AllowList | undefined = undefined,
  options: BrowserOptions = {}
): Effect.Effect<EngineStatus, EngineError> =>
  Effect.gen(function*() {
    const spec = scenario.browser
    if (spec === undefined) return yield* new EngineError({ code: "invalid_scenario", message: `${scenario.source} has no browser steps` })
    if (allow !== undefined) {
      const refused = yield* checkScenario(allow, scenario)
      if (refused !== undefined) return yield* new EngineError({ code: "target_not_allowed", message: refused })
    }
    yield* probe(originOf(scenario.target), Math.min(5000, scenario.timeoutMs))
    const { runBrowser } = yield* Effect.promise(() => import("./BrowserEngine.ts"))
    const blocked = allow === undefined
      ? undefined
      : (url: URL) => !allowedByName(allow, url.hostname.replace(/^\[|\]$/g, ""), originOf(url).port)
    // The builtin tool's child and `grid run` get the screenshot folder from the environment.
    const screenshotDir = options.screenshotDir ?? (process.env.GRID_BROWSER_SCREENSHOTS || undefined)
    return yield* runBrowser({ ...scenario, browser: spec }, sink, status, { ...options, screenshotDir, blocked }).pipe(
      Effect.mapError((e) => new EngineError({ code: e.code, message: e.message }))
    )
  })
