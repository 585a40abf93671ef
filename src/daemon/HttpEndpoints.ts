// `grid daemon --http-addr`: the node's HTTP endpoints for the people who run the fleet.
// `/healthz` answers 200 while the node's supervisor runs (the server lives in the node's
// scope), `/readyz` 200 only when the node can take a test now (NATS connected, its command
// consumer open, not draining nor paused by the live flag accept, the event outbox not stuck) and
// 503 with the reasons otherwise,
// `/metrics` the process's effect Metric registry as Prometheus text (PrometheusMetrics), with
// the gauges that are read, not counted, sampled at each scrape. Loaded by a dynamic import only
// when the flag is given: the HTTP server's modules cost start-up time a node without it never pays.
import { Clock, Duration, Effect, Layer, Option } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Metric from "effect/Metric"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { NodeFlags } from "../flags/NodeFlags.ts"
import { LinkStatus } from "../health/LinkStatus.ts"
import * as M from "../health/NodeMetrics.ts"
import { Backends } from "../runner/Backends.ts"
import { EventSink } from "../runner/EventSink.ts"
import { TestManager } from "../runner/TestManager.ts"
import { VERSION } from "../version.ts"
import { DaemonError } from "./GridNode.ts"
import { serveRoutes } from "./HttpServe.ts"

export interface HttpEndpointsOptions {
  readonly host: string
  readonly port: number
  readonly nodeId: string
  readonly channel: string
  /** Events older than two heartbeats are stuck (as the heartbeat's `healthy` says). */
  readonly heartbeatInterval: Duration.Duration
}

/** Why the node cannot take a test now; empty when it can. */
const notReady = (stuckAfterMs: number, flags: Option.Option<NodeFlags["Service"]>) =>
  Effect.gen(function*() {
    const link = yield* LinkStatus
    const manager = yield* TestManager
    const events = yield* EventSink
    const reasons: Array<string> = []
    if (!(yield* link.connected)) reasons.push("NATS is not connected")
    if (!(yield* link.consumerOpen)) reasons.push("the command consumer is not open")
    const state = yield* manager.state
    if (state === "draining") reasons.push("the node is draining and accepts no new tests")
    const accept = Option.isSome(flags) ? (yield* flags.value.current).flags.accept : undefined
    if (accept?.value === false) reasons.push(`the node is paused by the flag accept=false${accept.key !== undefined ? ` (${accept.key})` : ""}`)
    const delivery = yield* events.stats
    if (delivery.oldestAgeMs > stuckAfterMs) {
      reasons.push(`the event outbox is stuck: ${delivery.depth} event(s) unpublished, the oldest for ${Math.round(delivery.oldestAgeMs / 1000)} s`)
    }
    return reasons
  })

/** The gauges read at scrape time, and the process's CPU (a counter, advanced by its delta). */
const sampler = (readiness: Effect.Effect<ReadonlyArray<string>>) => Effect.gen(function*() {
  const manager = yield* TestManager
  const events = yield* EventSink
  const backends = yield* Backends
  let cpuMicros = 0
  return Effect.gen(function*() {
    yield* Metric.update(M.testsRunning, (yield* manager.running).length)
    const delivery = yield* events.stats
    yield* Metric.update(M.eventsPending, delivery.depth)
    yield* Metric.update(M.eventsOldestAge, delivery.oldestAgeMs / 1000)
    yield* Metric.update(M.nodeReady, (yield* readiness).length === 0 ? 1 : 0)
    yield* Metric.update(M.dockerAvailable, (yield* backends.available).includes("docker") ? 1 : 0)
    const cpu = process.cpuUsage()
    const total = cpu.user + cpu.system
    if (total > cpuMicros) yield* M.count(M.cpuSeconds, (total - cpuMicros) / 1e6)
    cpuMicros = Math.max(cpuMicros, total)
    yield* Metric.update(M.residentMemory, process.memoryUsage.rss())
  })
})

const routes = (options: HttpEndpointsOptions) =>
  HttpRouter.use(Effect.fn("http.routes")(function*(router) {
    const services = yield* Effect.context<LinkStatus | TestManager | EventSink>()
    const stuckAfterMs = 2 * Duration.toMillis(options.heartbeatInterval)
    const readiness = Effect.provideContext(notReady(stuckAfterMs, yield* Effect.serviceOption(NodeFlags)), services)
    const sample = yield* sampler(readiness)
    yield* Metric.update(Metric.withAttributes(M.buildInfo, { version: VERSION, channel: options.channel, node: options.nodeId }), 1)
    yield* Metric.update(M.startTime, Math.round(((yield* Clock.currentTimeMillis) - performance.now()) / 1000))
    yield* router.add("GET", "/healthz", Effect.succeed(HttpServerResponse.jsonUnsafe({ status: "ok", node: options.nodeId })))
    yield* router.add(
      "GET",
      "/readyz",
      Effect.map(readiness, (reasons) =>
        HttpServerResponse.jsonUnsafe(
          reasons.length === 0 ? { ready: true, node: options.nodeId } : { ready: false, node: options.nodeId, reasons },
          { status: reasons.length === 0 ? 200 : 503 }
        ))
    )
    yield* router.add(
      "GET",
      "/metrics",
      Effect.andThen(sample, PrometheusMetrics.format()).pipe(
        Effect.map((body) => HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
      )
    )
  }))

/** The endpoints as a Layer of the node: serving while it lives, closed when it is released. */
export const httpEndpoints = (options: HttpEndpointsOptions) =>
  Layer.effectDiscard(
    HttpServer.addressFormattedWith((url) => Effect.logInfo(`node ${options.nodeId} serves /healthz, /readyz and /metrics on ${url}`))
  ).pipe(
    Layer.provideMerge(serveRoutes(options, routes(options), (message) => new DaemonError({ component: "http", message })))
  )
