// The dashboard's HTTP routes (served by src/cli/dashboardHttp.ts over the one HTTP server):
// `/` the live page, `/events` the event stream (server-sent events: a message a second with the
// points after the reader's seq and the state so far; `end` with the final figures closes it),
// `/data.json` everything so far, `/report.html` the shareable report of the test so far. A
// reader resumes from `?since=<seq>` or the Last-Event-ID header its EventSource sends.
import { Deferred, Duration, Effect, Schema, Stream, SubscriptionRef } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type { DashboardFeed } from "./Feed.ts"
import { dashboardPage } from "./Page.ts"

export class DashboardError extends Schema.TaggedError<DashboardError>()("DashboardError", {
  message: Schema.String
}) {}

/** Largest seq a reader may name (a week of one-second windows is 604800). */
const MAX_SEQ = 100_000_000

/** The seq a reader resumes after: `?since=`, else Last-Event-ID, else -1 (from the start). */
export const sinceOf = (url: string, lastEventId: string | undefined): number | string => {
  const q = new URL(url, "http://dashboard").searchParams.get("since")
  const raw = q ?? lastEventId
  if (raw === undefined || raw === null || raw === "") return -1
  if (!/^-?\d{1,9}$/.test(raw)) return `${q !== null ? "since" : "Last-Event-ID"} ${JSON.stringify(raw.slice(0, 40))}: must be a window seq (an integer from -1)`
  const n = Number(raw)
  return n < -1 || n > MAX_SEQ ? `${q !== null ? "since" : "Last-Event-ID"} ${n}: must be from -1 to ${MAX_SEQ}` : n
}

/** A page's own id (`?page=`), so one cut off can be waited for at the end. */
export const pageOf = (url: string): string | undefined => {
  const p = new URL(url, "http://dashboard").searchParams.get("page")
  return p !== null && /^[A-Za-z0-9]{1,32}$/.test(p) ? p : undefined
}

export interface Streams {
  /** Readers not yet sent the test's end: open streams, and pages whose stream dropped (they
   * reconnect with their id), so the end of a run waits (bounded) for a page cut off just then. */
  readonly waiting: SubscriptionRef.SubscriptionRef<ReadonlySet<string>>
  /** Completed when the server closes: open streams end. */
  readonly closing: Deferred.Deferred<void>
}

/** One reader's messages: the first at once, then one a second, and `end` as soon as the test
 * has ended (then the stream completes). */
const eventStream = (feed: DashboardFeed, since: number, s: Streams, done: Deferred.Deferred<void>, key: string, page: boolean) => {
  let last = since
  let ended = false
  const forget = SubscriptionRef.update(s.waiting, (w) => {
    const next = new Set(w)
    next.delete(key)
    return next
  })
  let first = true
  const frame = Effect.gen(function*() {
    if (!first) yield* Effect.raceFirst(Effect.sleep(Duration.seconds(1)), Deferred.await(done))
    first = false
    const d = feed.sinceJson(last)
    last = Math.max(last, d.lastSeq)
    return { ended: d.done, text: `${d.done ? "event: end\n" : ""}id: ${last}\ndata: ${d.json}\n\n` }
  })
  return Stream.make({ ended: false, text: "retry: 1000\n\n" }).pipe(
    Stream.concat(Stream.fromEffectRepeat(frame)),
    Stream.takeUntil((f) => f.ended),
    Stream.map((f) => {
      ended = ended || f.ended
      return f.text
    }),
    Stream.interruptWhen(Deferred.await(s.closing)),
    // Sent its end, or a reader without an id dropped: no longer waited for. A page with an id
    // that dropped stays awaited: it comes back with `?since=`.
    Stream.ensuring(Effect.suspend(() => (ended || !page ? forget : Effect.void))),
    Stream.encodeText
  )
}

export const dashboardRoutes = (feed: DashboardFeed, s: Streams) =>
  HttpRouter.use(Effect.fn("dashboard.routes")(function*(router) {
    const done = yield* Deferred.make<void>()
    let streams = 0
    feed.whenDone(() => Deferred.doneUnsafe(done, Effect.void))
    yield* router.add("GET", "/", Effect.sync(() => HttpServerResponse.html(dashboardPage({ kind: "live", title: feed.meta.title, events: "events" }))))
    yield* router.add("GET", "/data.json", Effect.sync(() => HttpServerResponse.jsonUnsafe(feed.data())))
    yield* router.add(
      "GET",
      "/report.html",
      Effect.sync(() =>
        HttpServerResponse.text(dashboardPage({ kind: "report", data: feed.data() }), {
          contentType: "text/html; charset=utf-8",
          headers: { "content-disposition": `attachment; filename="grid-report.html"` }
        })
      )
    )
    yield* router.add("GET", "/events", (req: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        const since = sinceOf(req.url, req.headers["last-event-id"])
        if (typeof since === "string") return HttpServerResponse.text(`${since}\n`, { status: 400 })
        const page = pageOf(req.url)
        const key = page ?? `stream-${++streams}`
        yield* SubscriptionRef.update(s.waiting, (w) => new Set(w).add(key))
        return HttpServerResponse.stream(eventStream(feed, since, s, done, key, page !== undefined), {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
        })
      }))
  }))
