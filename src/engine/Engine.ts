// The built-in engine's entry point as a library: runs a loaded Scenario and pushes every
// response as a Sample into a SampleSink (the ingestion aggregation for `grid run`, a JTL
// file for `grid engine`). Before the first request it checks every origin accepts a
// connection, so an unreachable target fails fast with the connection error. Interrupting
// the returned effect aborts in-flight requests and closes every socket.
import { connect } from "node:net"
import { Clock, Effect, Schema } from "effect"
import type { SampleSink } from "../ingest/Sample.ts"
import { type EngineStatus, type ModelContext, runClosed, runOpen } from "./LoadModels.ts"
import { alone, rowsOf, shareOf, type WorkerShare } from "./LoadSplit.ts"
import { runPhase } from "./flows/SetupPhase.ts"
import { compilePlan, type Origin } from "./RequestPlan.ts"
import type { Scenario } from "./Scenario.ts"
import { type ConnectGuard, leanSessions, UndiciPools, undiciSessions } from "./Session.ts"
import { type AllowList, checkScenario, guardedLookup, NOT_ALLOWED } from "./TargetAllowList.ts"

export class EngineError extends Schema.TaggedError<EngineError>()("EngineError", {
  /** `unreachable` when a target refuses or times out the first connection; `setup_failed` when a
   * `setup:` request fails (nothing else is sent); `target_not_allowed`
   * when the node's allow-list refuses one of the scenario's hosts (before or at connect). */
  code: Schema.String,
  message: Schema.String
}) {}

export type { EngineStatus }

/** Opens and closes one TCP connection to the origin, failing with the socket's error. */
export const probe = (origin: Origin, timeoutMs = 5000, guard: ConnectGuard = undefined): Effect.Effect<void, EngineError> =>
  Effect.callback<void, EngineError>((resume) => {
    const fail = (detail: string) =>
      resume(Effect.fail(new EngineError({ code: "unreachable", message: `cannot connect to ${origin.key}: ${detail}` })))
    const socket = connect({ host: origin.host, port: origin.port, ...(guard ? { lookup: guard(origin) } : {}) })
    socket.setTimeout(timeoutMs)
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.void)
    })
    socket.once("timeout", () => {
      socket.destroy()
      fail(`no answer within ${timeoutMs} ms`)
    })
    socket.once("error", (e: NodeJS.ErrnoException) =>
      e.code === NOT_ALLOWED
        ? resume(Effect.fail(new EngineError({ code: "target_not_allowed", message: e.message })))
        : fail(e.code !== undefined ? `${e.code} (${e.message})` : e.message))
    return Effect.sync(() => socket.destroy())
  })

export const newStatus = (): EngineStatus => ({ users: 0, dropped: 0, arrivals: 0 })

export interface EngineOptions {
  /** One of a node's workers: its share of users, arrivals, connections and data rows. */
  readonly share?: WorkerShare | undefined
  /** Runs after the checks and probes, before the first request: a worker reports ready
   * there and waits for the common start, so every worker's profile starts together. */
  readonly beforeLoad?: Effect.Effect<void> | undefined
}

/**
 * Runs the scenario to the end of its load profile. `status` is updated live (users,
 * dropped arrivals) for progress display.
 */
export const runEngine = (
  scenario: Scenario,
  sink: SampleSink,
  status: EngineStatus = newStatus(),
  allow: AllowList | undefined = undefined,
  options: EngineOptions = {}
): Effect.Effect<EngineStatus, EngineError> =>
  Effect.gen(function*() {
    if (allow !== undefined) {
      const refused = yield* checkScenario(allow, scenario)
      if (refused !== undefined) return yield* new EngineError({ code: "target_not_allowed", message: refused })
    }
    // Checked again at every connect: a name's addresses may change during the run.
    const guard: ConnectGuard = allow === undefined ? undefined : (o) => guardedLookup(allow, o.port)
    const share = options.share ?? alone
    const plan = compilePlan(share.count === 1 ? scenario : { ...scenario, data: rowsOf(scenario.data, share) })
    yield* Effect.forEach(plan.origins, (o) => probe(o, Math.min(5000, scenario.timeoutMs), guard), { concurrency: "unbounded", discard: true })
    const connections = scenario.load.model === "open"
      ? scenario.load.maxConnections ?? 100
      : Math.max(1, ...(scenario.load.stages?.map((s) => s.users) ?? [scenario.load.users ?? 1]))
    const pools = scenario.client === "undici" ? new UndiciPools(Math.max(1, shareOf(connections, share)), scenario.timeoutMs, guard) : undefined
    if (options.beforeLoad !== undefined) yield* options.beforeLoad
    const now = yield* Clock.currentTimeMillis
    const ctx: ModelContext = {
      plan,
      sink,
      epochOffset: now - performance.now(),
      ending: false,
      newSession: pools !== undefined ? undiciSessions(pools) : leanSessions(scenario.timeoutMs, guard),
      status,
      gracefulStopMs: Math.min(scenario.timeoutMs, 2000),
      share
    }
    const model = scenario.load.model === "open"
      ? runOpen(ctx, scenario.load, scenario.durationMs)
      : runClosed(ctx, scenario.load, scenario.durationMs)
    yield* Effect.gen(function*() {
      // `setup:` once before the load, its captures every user's start; `teardown:` once after.
      const setup = yield* runPhase(plan, plan.setup, sink, ctx.newSession, undefined)
      if (setup.failure !== undefined) {
        return yield* new EngineError({ code: "setup_failed", message: `setup failed, no load sent: ${setup.failure}` })
      }
      ctx.shared = setup.vars
      yield* model
      yield* runPhase(plan, plan.teardown, sink, ctx.newSession, setup.vars)
    }).pipe(
      Effect.ensuring(pools === undefined ? Effect.void : Effect.promise(() => pools.close()))
    )
    return status
  })
