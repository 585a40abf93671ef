// The hot loop of one virtual user (or one open-model arrival): picks the iteration's flow,
// sends its requests in order through its session, one at a time, and pushes a Sample per
// response. Captures, checks and the user's cookie jar act on the response only when the
// request has any (or the target set a cookie): a plain request costs what it always did.
// Plain callbacks: an Effect resume per request costs 10-15% of throughput here (measured
// against a raw loop), so a user's fiber only wakes when it must pause (think time), when
// its iterations are over, or when it is interrupted (LoadModels.ts).
import type { Sample, SampleSink } from "../ingest/Sample.ts"
import { UserCookies } from "./flows/CookieJar.ts"
import { ResponseView } from "./flows/Response.ts"
import type { Env } from "./flows/Variables.ts"
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
  /** Variables setup captured, copied into every user's own. */
  shared?: Readonly<Record<string, string>> | undefined
}

let users = 0

/** Where one user is in its flow, and what it carries between requests. */
export class Cursor implements Env {
  index = 0
  iterations = 0
  row: Row = undefined
  /** The user's number, 1-based (an open-model arrival's number). */
  readonly vu = ++users
  /** Captured variables (setup's first); shared until the user's first capture or start. */
  vars: Record<string, string> = Object.create(null) as Record<string, string>
  private ownVars = false
  /** Created at the first Set-Cookie this user receives. */
  cookies: UserCookies | undefined = undefined
  /** The requests of the flow drawn for the current iteration. */
  flow: ReadonlyArray<CompiledRequest> = []
  /** Ramp-down: stop at the end of the current iteration. */
  retire = false
  /** Interrupted: ignore whatever the session reports from now on. */
  aborted = false
  /** Open model: the first request's latency counts from this scheduled instant (performance.now() ms). */
  scheduled: number | undefined = undefined

  /** Gives the user its own copy of setup's variables, once. */
  adopt(shared: Readonly<Record<string, string>> | undefined): void {
    if (this.ownVars) return
    this.ownVars = true
    if (shared !== undefined) Object.assign(this.vars, shared)
  }
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
 * Runs requests until the user must pause. `once`: one pass over a flow (open model).
 * `onPause` is called exactly once unless the cursor is aborted first.
 */
export const runUntilPause = (
  ctx: LoopContext,
  session: Session,
  cursor: Cursor,
  once: boolean,
  onPause: (pause: Pause) => void
): void => {
  const sink = ctx.sink
  const cookiesOn = ctx.plan.cookies
  const step = (): void => {
    if (cursor.aborted) return
    // An arrival (once) finishes its pass in the graceful-stop window; a user stops at once.
    if ((ctx.ending && !once) || (cursor.index === 0 && (cursor.retire || (once && cursor.iterations > 0)))) {
      onPause(done)
      return
    }
    if (cursor.index === 0) {
      if (cursor.iterations === 0) cursor.adopt(ctx.shared)
      cursor.row = ctx.plan.nextRow()
      cursor.flow = ctx.plan.pickFlow().requests
    }
    const requests = cursor.flow
    const request: CompiledRequest = requests[cursor.index]!
    const cookie = cursor.cookies === undefined ? "" : cursor.cookies.cookieHeader(request.url(cursor))
    const collect = request.collect > 0 ? request.collect : cookiesOn ? 1 : 0
    const now = performance.now()
    const start = cursor.scheduled !== undefined ? Math.min(cursor.scheduled, now) : now
    cursor.scheduled = undefined
    let bytesOut = 0
    let sync = true
    const onResponse = (
      error: string | undefined,
      status: number,
      bytesIn: number,
      headers?: ReadonlyArray<string>,
      body?: ReadonlyArray<Buffer>
    ): void => {
      if (cursor.aborted) return
      const end = performance.now()
      let ok = error === undefined && request.isExpected(status)
      let message = ok ? undefined : error ?? `unexpected status ${status}`
      let endIteration = false
      if (request.collect > 0 || (headers !== undefined && cookiesOn && UserCookies.setsCookie(headers))) {
        const view = new ResponseView(headers ?? [], body)
        if (cookiesOn && headers !== undefined) (cursor.cookies ??= new UserCookies()).store(request.url(cursor), view)
        if (ok && request.checks.inspects) {
          const failed = request.checks.run(view, end - start)
          if (failed !== undefined) {
            ok = false
            message = failed
          }
        }
        for (const capture of request.captures) {
          const got = error === undefined ? capture.run(view) : { error: `capture ${capture.name}: no response` }
          if (typeof got === "string") {
            cursor.adopt(ctx.shared)
            cursor.vars[capture.name] = got
            continue
          }
          if (ok) {
            ok = false
            message = got.error
          }
          if (request.onCaptureFail === "end") endIteration = true
        }
      }
      const sample: Sample = {
        timestamp: ctx.epochOffset + start,
        label: request.name,
        latencyMs: end - start,
        success: ok,
        status: error === undefined ? statusOf(status) : transportStatus(error),
        bytesIn,
        bytesOut,
        error: message
      }
      sink(sample)
      if (endIteration || ++cursor.index === requests.length) {
        cursor.index = 0
        cursor.iterations++
      }
      if (request.thinkTimeMs > 0) onPause({ kind: "think", ms: request.thinkTimeMs })
      else if (sync) setImmediate(step) // a synchronous failure must neither recurse nor starve I/O
      else step()
    }
    bytesOut = session.send(request, cursor, cookie, collect, onResponse)
    sync = false
  }
  step()
}
