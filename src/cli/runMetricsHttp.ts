// `grid run --http-addr` and `grid launch --http-addr`: the run's live figures (RunMetrics) on
// `/metrics` for a Prometheus watching a long soak test, and `/healthz`, over the daemon's HTTP
// server (src/daemon/HttpServe.ts), in the command's scope. Loaded by a dynamic import only when
// the flag is given. After the run, `--http-linger` keeps serving until one scrape has read the
// final figures (at most that long): without it the last windows of a run never reach Prometheus.
import { Duration, Effect, Layer, Schema, Stream, SubscriptionRef } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { serverUrl, serveRoutes } from "../daemon/HttpServe.ts"
import type { RunMetrics } from "../report/RunMetrics.ts"
import { parseHostPort } from "./flags.ts"

export class RunHttpError extends Schema.TaggedError<RunHttpError>()("RunHttpError", {
  message: Schema.String
}) {}

export interface RunHttp {
  /** Where it listens, e.g. `http://127.0.0.1:9464`. */
  readonly url: string
  /** Waits until /metrics has been read once more (the final figures), at most `max`. */
  readonly lingerForScrape: (max: Duration.Duration) => Effect.Effect<void>
}

export const serveRunMetrics = Effect.fn("http.serveRunMetrics")(function*(addr: string, metrics: RunMetrics) {
  const at = parseHostPort(addr)
  if (at === null) return yield* new RunHttpError({ message: `--http-addr ${JSON.stringify(addr)}: must be host:port, e.g. 127.0.0.1:9465` })
  const scrapes = yield* SubscriptionRef.make(0)
  const routes = HttpRouter.use(Effect.fn("http.runRoutes")(function*(router) {
    yield* router.add("GET", "/healthz", Effect.succeed(HttpServerResponse.jsonUnsafe({ status: "ok", kind: metrics.kind })))
    yield* router.add(
      "GET",
      "/metrics",
      Effect.gen(function*() {
        const body = metrics.text()
        yield* SubscriptionRef.update(scrapes, (n) => n + 1)
        return HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
      })
    )
  }))
  const context = yield* Layer.build(serveRoutes(at, routes, (message) => new RunHttpError({ message })))
  const url = yield* Effect.provideContext(serverUrl, context)
  const lingerForScrape = (max: Duration.Duration) =>
    Effect.gen(function*() {
      if (Duration.toMillis(max) <= 0) return
      const before = yield* SubscriptionRef.get(scrapes)
      yield* SubscriptionRef.changes(scrapes).pipe(
        Stream.filter((n) => n > before),
        Stream.take(1),
        Stream.runDrain,
        Effect.timeoutOption(max)
      )
    })
  return { url, lingerForScrape } satisfies RunHttp
})
