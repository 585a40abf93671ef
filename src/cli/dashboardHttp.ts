// `--dashboard`: serves a test's live page (src/dashboard/Routes.ts) over grid's one HTTP server
// (src/daemon/HttpServe.ts) in the command's scope, refreshing the feed once a second by the
// Clock. Loaded by a dynamic import only when the flag is given. When the test has ended, `drain`
// waits (bounded) until every open page has been sent the final figures, so a page watching the
// run ends on the summary's numbers rather than on a dropped connection.
import { Clock, Deferred, Duration, Effect, Layer, Schedule, Stream, SubscriptionRef } from "effect"
import type { DashboardFeed } from "../dashboard/Feed.ts"
import { DashboardError, dashboardRoutes } from "../dashboard/Routes.ts"
import { serverUrl, serveRoutes } from "../daemon/HttpServe.ts"
import { parseHostPort } from "./flags.ts"

export interface DashboardHttp {
  /** The page's address, e.g. `http://127.0.0.1:40123/`. */
  readonly url: string
  /** After the feed's `finish`: waits until every page open (or cut off and coming back) has had
   * the end, at most `max`. */
  readonly drain: (max: Duration.Duration) => Effect.Effect<void>
}

/** `host:port`, or a bare port on 127.0.0.1. */
export const dashboardAddr = (text: string): { host: string; port: number } | null =>
  /^\d{1,5}$/.test(text.trim()) ? parseHostPort(`127.0.0.1:${text.trim()}`) : parseHostPort(text)

export const serveDashboard = Effect.fn("dashboard.serve")(function*(addr: string, feed: DashboardFeed) {
  const at = dashboardAddr(addr)
  if (at === null) return yield* new DashboardError({ message: `--dashboard=${JSON.stringify(addr)}: must be host:port or a port, e.g. --dashboard=127.0.0.1:8089` })
  const waiting = yield* SubscriptionRef.make<ReadonlySet<string>>(new Set())
  const closing = yield* Deferred.make<void>()
  const context = yield* Layer.build(serveRoutes(at, dashboardRoutes(feed, { waiting, closing }), (message) => new DashboardError({ message })))
  // Runs before the server's own close (finalizers run in reverse): open event streams end, so
  // the server does not wait on them.
  yield* Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
  const url = `${yield* Effect.provideContext(serverUrl, context)}/`
  yield* Clock.currentTimeMillis.pipe(
    Effect.map((now) => feed.refresh(now)),
    Effect.repeat(Schedule.spaced(Duration.seconds(1))),
    Effect.forkScoped
  )
  const drain = (max: Duration.Duration) =>
    SubscriptionRef.changes(waiting).pipe(
      Stream.filter((w) => w.size === 0),
      Stream.take(1),
      Stream.runDrain,
      Effect.timeoutOption(max),
      Effect.asVoid
    )
  return { url, drain } satisfies DashboardHttp
})
