// Traces across a launch: an OTLP/HTTP receiver written here (a node http server on 127.0.0.1
// collecting the exporters' JSON requests) receives the spans of one `grid launch` on two real
// daemon processes over a real nats-server, all in one trace: the launch's root span, the
// controller's launch span, and under it each node's command and test spans with theirs.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { countingTarget } from "./fixtures/countingTarget.ts"
import { type GridProcess, spawnGrid } from "./support/gridCli.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

interface ReceivedSpan {
  readonly service: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly attributes: Record<string, unknown>
}

/** An OTLP/HTTP (JSON) trace receiver: every span of every export request, with its service;
 * closed with the scope. */
class Receiver extends Context.Service<Receiver, { readonly url: string; readonly spans: ReadonlyArray<ReceivedSpan>; readonly paths: ReadonlyArray<string> }>()(
  "test/tracing/Receiver"
) {
  static readonly layer = Layer.effect(Receiver, Effect.acquireRelease(
    Effect.callback<{ server: http.Server; url: string; spans: Array<ReceivedSpan>; paths: Array<string> }>((resume) => {
      const spans: Array<ReceivedSpan> = []
      const paths: Array<string> = []
      const server = http.createServer((req, res) => {
        let body = ""
        req.on("data", (b) => (body += b))
        req.on("end", () => {
          paths.push(`${req.method} ${req.url} ${req.headers["content-type"]}`)
          const doc = JSON.parse(body) as { resourceSpans: Array<any> }
          for (const rs of doc.resourceSpans) {
            const service = rs.resource.attributes.find((a: any) => a.key === "service.name")?.value.stringValue
            for (const ss of rs.scopeSpans) {
              for (const s of ss.spans) {
                const attributes: Record<string, unknown> = {}
                for (const a of s.attributes ?? []) attributes[a.key] = Object.values(a.value)[0]
                spans.push({ service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, name: s.name, attributes })
              }
            }
          }
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, spans, paths })))
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ))
}
/** The target the builtin engine loads. */
class Site extends Context.Service<Site, { readonly url: string }>()("test/tracing/Site") {
  static readonly layer = Layer.effect(Site, countingTarget)
}

const nodes = ["trace-1", "trace-2"]

/** Two real daemon processes exporting to the receiver, up once their heartbeats are read. */
class Daemons extends Context.Service<Daemons, ReadonlyArray<GridProcess>>()("test/tracing/Daemons") {
  static readonly layer = Layer.effect(Daemons, Effect.gen(function*() {
    const nats = yield* TestNats
    const client = yield* WireClient
    const receiver = yield* Receiver
    const daemons = yield* Effect.forEach(nodes, (nodeId) =>
      spawnGrid(["daemon", "--nats-url", nats.url, "--node-id", nodeId, "--work-dir", tempWorkRoot(), "--heartbeat-interval", "500ms"], {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url
      }))
    for (const nodeId of nodes) yield* waitUntil(`heartbeat of ${nodeId}`, client.heartbeat(nodeId)).pipe(Effect.orDie)
    return daemons
  }))
}

const env = Daemons.layer.pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(Layer.mergeAll(TestNats.layer(), Receiver.layer, Site.layer))
)

/** SIGTERM, then the exit code. */
const stop = (d: GridProcess) =>
  Effect.suspend(() => {
    if (d.child.exitCode === null) d.child.kill("SIGTERM")
    return d.exited
  })

describe("OTLP traces", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("one launch on two daemons is one trace: launch -> controller -> each node's command and test spans", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const receiver = yield* Receiver
        const site = yield* Site
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "grid-trace-"))),
          (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
        )
        const planFile = path.join(dir, "plan.json")
        fs.writeFileSync(planFile, JSON.stringify({
          tool: "builtin",
          params: { target: site.url },
          scenario: { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/" }], load: { model: "open", rate: 10, durationSeconds: 2 } }
        }))
        const launch = yield* spawnGrid(["launch", planFile, "--nats-url", nats.url, "--nodes", nodes.join(","), "--test-id", "trace-t1", "--otlp-endpoint", receiver.url], {
          OTEL_SERVICE_NAME: "grid-launch-under-test"
        })
        const code = yield* launch.exited
        expect(code, launch.stdout() + launch.stderr()).toBe(0)
        // The daemons export what is still buffered when they stop.
        yield* Effect.forEach(yield* Daemons, stop, { concurrency: "unbounded" })
        yield* waitUntil("every node's test span", Effect.sync(() =>
          receiver.spans.filter((s) => s.name === "runner.runTest" && s.attributes["grid.test_id"] === "trace-t1").length === nodes.length))
        expect(receiver.paths.every((p) => p.startsWith("POST /v1/traces application/json"))).toBe(true)

        const spans = receiver.spans
        const root = spans.find((s) => s.name === "grid.launch")!
        expect(root).toMatchObject({ service: "grid-launch-under-test", parentSpanId: undefined })
        const inTrace = spans.filter((s) => s.traceId === root.traceId)
        const byId = new Map(inTrace.map((s) => [s.spanId, s]))
        const parentOf = (s: ReceivedSpan) => (s.parentSpanId === undefined ? undefined : byId.get(s.parentSpanId))
        const controllerLaunch = inTrace.find((s) => s.name === "controller.launch")!
        expect(parentOf(controllerLaunch)?.name).toBe("grid.launch")

        for (const nodeId of nodes) {
          const test = inTrace.find((s) => s.name === "runner.runTest" && s.attributes["grid.node_id"] === nodeId)
          expect(test, `${nodeId}'s test span in the launch's trace`).toBeDefined()
          expect(test!.service).toBe("grid-daemon")
          const decide = parentOf(test!)!
          expect(decide.name).toBe("control.decide")
          expect(parentOf(decide)).toBe(controllerLaunch)
          const decideChildren = inTrace.filter((s) => s.parentSpanId === decide.spanId).map((s) => s.name)
          expect(decideChildren).toContain("control.decode")
          const testChildren = inTrace.filter((s) => s.parentSpanId === test!.spanId).map((s) => s.name)
          for (const name of ["runner.workDir", "runner.launch", "runner.run", "runner.cleanup", "runner.publishEnd"]) {
            expect(testChildren, `${nodeId}: ${name} under runner.runTest`).toContain(name)
          }
        }
      }), 90_000)
  })
})
