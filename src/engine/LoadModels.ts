// The two load models. Closed: one fiber per virtual user, the number of users following
// `users`/`rampUpSeconds` or `stages`. Open: arrivals at a scheduled rate, one fiber per
// arrival, each taking a free connection; an arrival that finds none is dropped and
// counted (an error sample with status `dropped`), never silently skipped, and its
// latency counts from the scheduled instant so a slow target cannot hide queueing
// (no coordinated omission). Controllers wait with Effect.sleep (Clock); the requests
// themselves run in Iteration.ts.
import { Clock, Duration, Effect, FiberSet } from "effect"
import { Cursor, type LoopContext, type Pause, runUntilPause } from "./Iteration.ts"
import { alone, ownsArrival, shareOf, type WorkerShare } from "./LoadSplit.ts"
import type { ClosedLoad, OpenLoad } from "./Scenario.ts"
import type { Session, SessionFactory } from "./Session.ts"

/** Live figures the progress line reads. */
export interface EngineStatus {
  /** Closed: running users; open: arrivals in flight. */
  users: number
  dropped: number
  /** Open model: arrivals so far (dropped ones included). */
  arrivals: number
  /** CPU time (ms) the engine's worker processes used from the common start, when it runs as
   * several (WorkerPool.ts): the node's own process.cpuUsage() does not see it. */
  workerCpuMs?: number
}

export interface ModelContext extends LoopContext {
  readonly newSession: SessionFactory
  readonly status: EngineStatus
  /** How long the end of the run waits for in-flight requests before aborting them. */
  readonly gracefulStopMs: number
  /** This engine's part of the node's load when it is one of several workers (LoadSplit.ts). */
  readonly share?: WorkerShare | undefined
}

interface Point {
  readonly atMs: number
  readonly value: number
}

/** Piecewise-linear target over time, from 0 at t=0 through each stage's end value. */
const profile = (points: ReadonlyArray<Point>) => (t: number): number => {
  let prev: Point = { atMs: 0, value: 0 }
  for (const p of points) {
    if (t < p.atMs) return prev.value + ((p.value - prev.value) * (t - prev.atMs)) / (p.atMs - prev.atMs)
    prev = p
  }
  return prev.value
}

const stagePoints = (stages: ReadonlyArray<{ readonly durationSeconds: number }>, value: (i: number) => number) => {
  let at = 0
  return stages.map((s, i) => ({ atMs: (at += s.durationSeconds * 1000), value: value(i) }))
}

export const closedProfile = (load: ClosedLoad): (t: number) => number => {
  if (load.stages !== undefined) return profile(stagePoints(load.stages, (i) => load.stages![i]!.users))
  const users = load.users ?? 1
  const ramp = (load.rampUpSeconds ?? 0) * 1000
  const total = (load.durationSeconds ?? 0) * 1000
  return ramp > 0 ? profile([{ atMs: ramp, value: users }, { atMs: total, value: users }]) : () => users
}

export const openProfile = (load: OpenLoad): (t: number) => number =>
  load.stages !== undefined ? profile(stagePoints(load.stages, (i) => load.stages![i]!.rate)) : () => load.rate ?? 0

/**
 * The open model's arrival instants (ms from the start): arrival k comes when the integral
 * of the rate reaches k, solved exactly on each linear piece of the profile. (Stepping by
 * 1/rate would stall on a ramp from 0: the first step at a near-zero rate jumps seconds.)
 * Returns a function giving the next instant, Infinity once the profile is over.
 */
export const arrivalSchedule = (load: OpenLoad, durationMs: number): () => number => {
  const points: Array<Point> = load.stages !== undefined
    ? [{ atMs: 0, value: 0 }, ...stagePoints(load.stages, (i) => load.stages![i]!.rate)]
    : [{ atMs: 0, value: load.rate ?? 0 }, { atMs: durationMs, value: load.rate ?? 0 }]
  let seg = 0
  let areaBefore = 0 // arrivals due before segment `seg`
  let k = 0
  return () => {
    while (seg < points.length - 1) {
      const a = points[seg]!
      const b = points[seg + 1]!
      const len = b.atMs - a.atMs
      const r0 = a.value / 1000
      const r1 = b.value / 1000
      const area = ((r0 + r1) / 2) * len
      const d = k - areaBefore
      if (len > 0 && d <= area) {
        const curve = (r1 - r0) / (2 * len)
        const root = r0 * r0 + 4 * curve * d
        const x = d === 0 ? 0 : (2 * d) / (r0 + Math.sqrt(Math.max(0, root)))
        const t = a.atMs + Math.min(len, x)
        if (t < durationMs) {
          k++
          return t
        }
        return Infinity
      }
      areaBefore += area
      seg++
    }
    return Infinity
  }
}

/** Drives one cursor through its session until done; interruption aborts the in-flight request. */
const drive = (ctx: ModelContext, session: Session, cursor: Cursor, once: boolean) =>
  Effect.gen(function*() {
    while (true) {
      const pause = yield* Effect.callback<Pause>((resume) => {
        runUntilPause(ctx, session, cursor, once, (p) => resume(Effect.succeed(p)))
        return Effect.sync(() => {
          cursor.aborted = true
          session.abort()
        })
      })
      if (pause.kind === "done") return
      yield* Effect.sleep(Duration.millis(pause.ms))
    }
  })

/** Lets in-flight work finish for the graceful-stop window; closing the scope aborts the rest. */
const windDown = (ctx: ModelContext, set: FiberSet.FiberSet<unknown, unknown>) =>
  Effect.gen(function*() {
    ctx.ending = true
    yield* FiberSet.awaitEmpty(set).pipe(Effect.timeoutOption(Duration.millis(ctx.gracefulStopMs)))
  })

export const runClosed = (ctx: ModelContext, load: ClosedLoad, durationMs: number) =>
  Effect.scoped(Effect.gen(function*() {
    const set = yield* FiberSet.make<unknown, unknown>()
    const target = closedProfile(load)
    const active: Array<Cursor> = []
    const t0 = yield* Clock.currentTimeMillis
    while (true) {
      const elapsed = (yield* Clock.currentTimeMillis) - t0
      if (elapsed >= durationMs) break
      const want = shareOf(Math.ceil(target(elapsed) - 1e-9), ctx.share ?? alone)
      while (active.length < want) {
        const cursor = new Cursor()
        active.push(cursor)
        const session = ctx.newSession()
        yield* FiberSet.run(set, drive(ctx, session, cursor, false).pipe(Effect.ensuring(Effect.sync(() => session.close()))))
      }
      while (active.length > want) active.pop()!.retire = true
      ctx.status.users = active.length
      yield* Effect.sleep(Duration.millis(Math.max(1, Math.min(50, durationMs - elapsed))))
    }
    yield* windDown(ctx, set)
    ctx.status.users = 0
  }))

export const runOpen = (ctx: ModelContext, load: OpenLoad, durationMs: number) =>
  Effect.scoped(Effect.gen(function*() {
    const set = yield* FiberSet.make<unknown, unknown>()
    const fork = yield* FiberSet.runtime(set)<never>()
    const share = ctx.share ?? alone
    const max = Math.max(1, shareOf(load.maxConnections ?? 100, share))
    const idle: Array<Session> = []
    const all: Array<Session> = []
    yield* Effect.addFinalizer(() => Effect.sync(() => all.forEach((s) => s.close())))
    const nextArrival = arrivalSchedule(load, durationMs)
    const first = ctx.plan.requests[0]!
    const t0 = yield* Clock.currentTimeMillis
    const perf0 = performance.now()
    let inFlight = 0

    const dispatch = (scheduledMs: number) => {
      ctx.status.arrivals++
      let session = idle.pop()
      if (session === undefined && all.length < max) {
        session = ctx.newSession()
        all.push(session)
      }
      if (session === undefined) {
        ctx.status.dropped++
        ctx.sink({
          timestamp: ctx.epochOffset + perf0 + scheduledMs,
          label: first.name,
          latencyMs: Number.NaN, // no latency: counted as an error, kept out of the histogram
          success: false,
          status: "dropped",
          bytesIn: 0,
          bytesOut: 0,
          error: `dropped: all ${max} connections busy`
        })
        return
      }
      const s = session
      const cursor = new Cursor()
      cursor.scheduled = perf0 + scheduledMs
      inFlight++
      fork(drive(ctx, s, cursor, true).pipe(Effect.ensuring(Effect.sync(() => {
        inFlight--
        idle.push(s)
      }))))
    }

    // Arrival k is worker k mod N's: every worker walks the whole schedule and keeps its own.
    let k = 0
    let next = nextArrival()
    while (next < durationMs) {
      const elapsed = (yield* Clock.currentTimeMillis) - t0
      while (next <= elapsed) {
        if (ownsArrival(k++, share)) dispatch(next)
        next = nextArrival()
      }
      ctx.status.users = inFlight
      if (next < durationMs) yield* Effect.sleep(Duration.millis(Math.max(1, Math.min(50, next - elapsed))))
    }
    yield* windDown(ctx, set)
    ctx.status.users = 0
  }))
