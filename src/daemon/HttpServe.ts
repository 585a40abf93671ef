// The one HTTP server of grid's endpoints: `grid daemon --http-addr` serves its node's routes
// through it (HttpEndpoints.ts), `grid run` and `grid launch --http-addr` their run's metrics
// (src/cli/runMetricsHttp.ts). Routes as an HttpRouter layer, served on host:port over Node's
// http server, without request logs; the server (and so its address) is the layer's output, and
// a port that cannot be listened on fails the layer with `failure`'s error.
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import { createServer } from "node:http"

export interface ServeOptions {
  readonly host: string
  readonly port: number
}

/** Node's server, whose `close` also ends its keep-alive connections: Prometheus scrapes over
 * one, and with a scrape every second it is never idle long enough for `close` alone to finish,
 * so a node or a run being shut down waited out the whole graceful-shutdown timeout (20 s). A
 * response being written when it closes (the final scrape a run lingers for) still completes. */
const closingServer = () => {
  const server = createServer()
  let closing = false
  server.on("request", (_req, res) => {
    if (closing) res.shouldKeepAlive = false
    res.once("finish", () => {
      if (closing) setImmediate(() => server.closeIdleConnections())
    })
  })
  const close = server.close.bind(server)
  server.close = ((callback?: (err?: Error) => void) => {
    closing = true
    close(callback)
    server.closeIdleConnections()
    return server
  }) as typeof server.close
  return server
}

export const serveRoutes = <R, F>(
  options: ServeOptions,
  routes: Layer.Layer<never, never, R>,
  failure: (message: string) => F
) =>
  HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layerServer(closingServer, { host: options.host, port: options.port })),
    // ServeError's own message is empty: the reason (EADDRINUSE ...) is its cause's.
    Layer.catchTag("ServeError", (e) =>
      Layer.effectContext(Effect.fail(failure(`cannot listen on ${options.host}:${options.port}: ${e.cause instanceof Error ? e.cause.message : e.message}`))))
  )

/** Where a server listens, as a URL (`http://127.0.0.1:9464`). */
export const serverUrl = Effect.gen(function*() {
  return HttpServer.formatAddress((yield* HttpServer.HttpServer).address)
})
