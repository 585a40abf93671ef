// The hot loop of one virtual user (or one open-model arrival): sends the scenario's
// requests in order through its session, one at a time, and pushes a Sample per response.
// Plain callbacks: an Effect resume per request costs 10-15% of throughput here (measured
// against a raw loop), so a user's fiber only wakes when it must pause (think time), when
// its iterations are over, or when it is interrupted (LoadModels.ts).
import type { Sample, SampleSink } from "../ingest/Sample.ts"
import type { CompiledRequest, RequestPlan, Row } from "./RequestPlan.ts"
import type { Session } from "./Session.ts"

/** What the loop shares with its run. */
export interface LoopContext {
  readonly plan: RequestPlan
  readonly sink: SampleSink
  /** Epoch ms at performance.now() === 0, so timestamps come from the monotonic clock. */
  readonly epochOffset: number
  /** Set when the run's duration is over: users stop before their next request, arrivals finish. */
  ending: boolean
}

/** Where one user is in its request list. */
export class Cursor {
  index = 0
  iterations = 0
  row: Row = undefined
  /** Ramp-down: stop at the end of the current iteration. */
  retire = false
  /** Interrupted: ignore whatever the session reports from now on. */
  aborted = false
  /** Open model: the first request's latency counts from this scheduled instant (performance.now() ms). */
  scheduled: number | undefined = undefined
}

export type Pause = { readonly kind: "think"; readonly ms: number } | { readonly kind: "done" }
const done: Pause = { kind: "done" }

/** Status codes as strings, made once: a sample per response must not allocate one. */
const statusText: Array<string> = []
const statusOf = (status: number): string => statusText[status] ?? (statusText[status] = String(status))

const transportStatus = (error: string): string => {
  const i = error.indexOf(":")
  return `Non HTTP response code: ${i > 0 && i < 40 ? error.slice(0, i) : error}`
}

/**
 * Runs requests until the user must pause. `once`: one pass over the list (open model).
 * `onPause` is called exactly once unless the cursor is aborted first.
 */
export const runUntilPause = (
  ctx: LoopContext,
  session: Session,
  cursor: Cursor,
  once: boolean,
  onPause: (pause: Pause) => void
): void => {
  const requests = ctx.plan.requests
  const sink = ctx.sink
  const step = (): void => {
    if (cursor.aborted) return
    // An arrival (once) finishes its pass in the graceful-stop window; a user stops at once.
    if ((ctx.ending && !once) || (cursor.index === 0 && (cursor.retire || (once && cursor.iterations > 0)))) {
      onPause(done)
      return
    }
    if (cursor.index === 0) cursor.row = ctx.plan.nextRow()
    const request: CompiledRequest = requests[cursor.index]!
    const now = performance.now()
    const start = cursor.scheduled !== undefined ? Math.min(cursor.scheduled, now) : now
    cursor.scheduled = undefined
    let bytesOut = 0
    let sync = true
    const onResponse = (error: string | undefined, status: number, bytesIn: number): void => {
      if (cursor.aborted) return
      const end = performance.now()
      const ok = error === undefined && request.isExpected(status)
      const sample: Sample = {
        timestamp: ctx.epochOffset + start,
        label: request.name,
        latencyMs: end - start,
        success: ok,
        status: error === undefined ? statusOf(status) : transportStatus(error),
        bytesIn,
        bytesOut,
        error: ok ? undefined : error ?? `unexpected status ${status}`
      }
      sink(sample)
      if (++cursor.index === requests.length) {
        cursor.index = 0
        cursor.iterations++
      }
      if (request.thinkTimeMs > 0) onPause({ kind: "think", ms: request.thinkTimeMs })
      else if (sync) setImmediate(step) // a synchronous failure must neither recurse nor starve I/O
      else step()
    }
    bytesOut = session.send(request, cursor.row, onResponse)
    sync = false
  }
  step()
}
