// `setup:` and `teardown:`: a list of requests run once by one user of their own, before the
// load starts and after it ends. Their samples go to the run's sink under their own labels
// (`[setup] name`, which the aggregation keeps out of the load's totals); setup's captures
// become the variables every user starts with. A setup that fails (an error, a failed
// check or capture) stops the run before any load: the users would only measure the failure.
import { Clock, Duration, Effect } from "effect"
import type { Sample, SampleSink } from "../../ingest/Sample.ts"
import { Cursor, type LoopContext, type Pause, runUntilPause } from "../Iteration.ts"
import type { CompiledRequest, RequestPlan } from "../RequestPlan.ts"
import type { SessionFactory } from "../Session.ts"

export interface PhaseResult {
  /** Variables captured (on top of those the phase started with). */
  readonly vars: Readonly<Record<string, string>>
  /** The first failed sample's label and message, if any. */
  readonly failure: string | undefined
}

/** Runs `requests` once, in order, with think times; interruption aborts the request in flight. */
export const runPhase = Effect.fn("engine.phase")(function*(
  plan: RequestPlan,
  requests: ReadonlyArray<CompiledRequest>,
  sink: SampleSink,
  newSession: SessionFactory,
  shared: Readonly<Record<string, string>> | undefined
) {
  if (requests.length === 0) return { vars: shared ?? {}, failure: undefined } satisfies PhaseResult
  const now = yield* Clock.currentTimeMillis
  let failure: string | undefined = undefined
  const ctx: LoopContext = {
    plan: { ...plan, pickFlow: () => ({ name: "phase", requests }), nextRow: () => plan.firstRow },
    sink: (s: Sample) => {
      if (!s.success && failure === undefined) failure = `${s.label}: ${s.error ?? s.status}`
      sink(s)
    },
    epochOffset: now - performance.now(),
    ending: false,
    shared
  }
  const cursor = new Cursor()
  const session = newSession()
  yield* Effect.gen(function*() {
    while (true) {
      const pause = yield* Effect.callback<Pause>((resume) => {
        runUntilPause(ctx, session, cursor, true, (p) => resume(Effect.succeed(p)))
        return Effect.sync(() => {
          cursor.aborted = true
          session.abort()
        })
      })
      if (pause.kind === "done") return
      yield* Effect.sleep(Duration.millis(pause.ms))
    }
  }).pipe(Effect.ensuring(Effect.sync(() => session.close())))
  return { vars: { ...cursor.vars }, failure } satisfies PhaseResult
})
