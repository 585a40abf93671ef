// The browser engine: runs a scenario's `browser:` steps with real Chromium users under
// the same load models as the HTTP engine (closedProfile and arrivalSchedule from
// LoadModels.ts). Closed: one fiber per user, each holding a seat in a browser for its life
// and running iterations until the run ends or the ramp retires it. Open: one iteration per
// arrival, at most `maxConnections` at once (default 100), an arrival finding none free is
// dropped and counted as for HTTP. Before any user starts, one browser is launched, so a
// missing or broken Chromium fails the run at once with its reason.
import { Clock, Duration, Effect, FiberSet, Schema } from "effect"
import type { SampleSink } from "../../ingest/Sample.ts"
import { arrivalSchedule, closedProfile, type EngineStatus } from "../LoadModels.ts"
import type { ClosedLoad, OpenLoad, Scenario } from "../Scenario.ts"
import type { BrowserSpec } from "./BrowserScenario.ts"
import { type BrowserOptions, resolveBrowserPath } from "./BrowserOptions.ts"
import { type BrowserPool, makePool } from "./BrowserPool.ts"
import { type BrowserRun, contextSetup, iteration } from "./BrowserUser.ts"

export class BrowserEngineError extends Schema.TaggedError<BrowserEngineError>()("BrowserEngineError", {
  /** `browser_not_found` or `browser_failed` (it would not start). */
  code: Schema.String,
  message: Schema.String
}) {}

/** How long the end of the run lets users finish the step they are in. */
const GRACEFUL_STOP = Duration.seconds(2)

const userLoop = (run: BrowserRun, retired: { retire: boolean }) =>
  Effect.scoped(Effect.gen(function*() {
    const seat = yield* run.pool.seat
    while (!run.ending && !retired.retire) yield* iteration(run, seat)
  }))

const windDown = (run: BrowserRun, set: FiberSet.FiberSet<unknown, unknown>) =>
  Effect.gen(function*() {
    run.ending = true
    yield* FiberSet.awaitEmpty(set).pipe(Effect.timeoutOption(GRACEFUL_STOP))
  })

const runClosed = (run: BrowserRun, load: ClosedLoad, durationMs: number, status: EngineStatus) =>
  Effect.scoped(Effect.gen(function*() {
    const set = yield* FiberSet.make<unknown, unknown>()
    const target = closedProfile(load)
    const active: Array<{ retire: boolean }> = []
    const t0 = yield* Clock.currentTimeMillis
    while (true) {
      const elapsed = (yield* Clock.currentTimeMillis) - t0
      if (elapsed >= durationMs) break
      const want = Math.ceil(target(elapsed) - 1e-9)
      while (active.length < want) {
        const user = { retire: false }
        active.push(user)
        yield* FiberSet.run(set, userLoop(run, user))
      }
      while (active.length > want) active.pop()!.retire = true
      status.users = active.length
      yield* Effect.sleep(Duration.millis(Math.max(1, Math.min(50, durationMs - elapsed))))
    }
    yield* windDown(run, set)
    status.users = 0
  }))

const runOpen = (run: BrowserRun, load: OpenLoad, durationMs: number, status: EngineStatus, firstLabel: string) =>
  Effect.scoped(Effect.gen(function*() {
    const set = yield* FiberSet.make<unknown, unknown>()
    const max = load.maxConnections ?? 100
    const next = arrivalSchedule(load, durationMs)
    const t0 = yield* Clock.currentTimeMillis
    const perf0 = performance.now()
    let inFlight = 0
    let at = next()
    while (at < durationMs) {
      const elapsed = (yield* Clock.currentTimeMillis) - t0
      while (at <= elapsed) {
        status.arrivals++
        if (inFlight >= max) {
          status.dropped++
          run.sink({
            timestamp: run.epochOffset + perf0 + at,
            label: firstLabel,
            latencyMs: Number.NaN,
            success: false,
            status: "dropped",
            bytesIn: 0,
            bytesOut: 0,
            error: `dropped: all ${max} users busy`
          })
        } else {
          inFlight++
          yield* FiberSet.run(
            set,
            Effect.scoped(Effect.flatMap(run.pool.seat, (seat) => iteration(run, seat))).pipe(Effect.ensuring(Effect.sync(() => inFlight--)))
          )
        }
        at = next()
      }
      status.users = inFlight
      if (at < durationMs) yield* Effect.sleep(Duration.millis(Math.max(1, Math.min(50, at - elapsed))))
    }
    yield* windDown(run, set)
    status.users = 0
  }))

/** Everything a run needs besides the scenario; `blocked` is the node's allow-list, if any. */
export interface BrowserRunOptions extends BrowserOptions {
  readonly blocked?: ((url: URL) => boolean) | undefined
  /** Called with the pool once it runs (tests and the bench read its stats). */
  readonly onPool?: ((pool: BrowserPool) => void) | undefined
}

/** Runs the scenario's browser users to the end of its load profile. */
export const runBrowser = (
  scenario: Scenario & { readonly browser: BrowserSpec },
  sink: SampleSink,
  status: EngineStatus,
  options: BrowserRunOptions = {}
): Effect.Effect<EngineStatus, BrowserEngineError> =>
  Effect.scoped(Effect.gen(function*() {
    const found = resolveBrowserPath(options.path)
    if ("problem" in found) return yield* new BrowserEngineError({ code: "browser_not_found", message: found.problem })
    const spec = scenario.browser
    const pool = yield* makePool(found.path, spec.usersPerBrowser ?? 5)
    options.onPool?.(pool)
    // The first browser, before any user: a Chromium that cannot start fails the run here.
    yield* pool.warmUp.pipe(
      Effect.mapError((e) => new BrowserEngineError({ code: "browser_failed", message: `${found.path}: ${e.message}` }))
    )
    const rows = scenario.data
    let row = 0
    const now = yield* Clock.currentTimeMillis
    const run: BrowserRun = {
      spec,
      pool,
      sink,
      base: scenario.target,
      timeoutMs: scenario.timeoutMs,
      epochOffset: now - performance.now(),
      nextRow: rows.length === 0 ? () => undefined : () => rows[row++ % rows.length],
      screenshotDir: options.screenshotDir,
      setup: contextSetup(options.blocked),
      ending: false,
      screenshots: 0
    }
    if (scenario.load.model === "open") yield* runOpen(run, scenario.load, scenario.durationMs, status, spec.steps[0]!.name)
    else yield* runClosed(run, scenario.load, scenario.durationMs, status)
    return status
  }))
