// `grid target [--port N]`: the demo HTTP server (src/engine/TargetServer.ts) in the
// foreground, so the README's quickstart and the benchmarks have a local target. Stops on
// Ctrl-C / SIGTERM.
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { parseRoute, type Route, serveTarget } from "../engine/TargetServer.ts"

export const targetCommand = Command.make(
  "target",
  {
    port: Flag.Int("port").pipe(Flag.withDescription("Port to listen on, 0: any free port (default 8080)"), Flag.withDefault(8080)),
    host: Flag.String("host").pipe(Flag.withDescription("Address to listen on (default 127.0.0.1)"), Flag.withDefault("127.0.0.1")),
    latency: Flag.Finite("latency").pipe(Flag.withDescription("Default response delay, ms (default 0)"), Flag.withDefault(0)),
    errorRate: Flag.Finite("error-rate").pipe(Flag.withDescription("Default share of 500 answers, 0..1 (default 0)"), Flag.withDefault(0)),
    route: Flag.String("route").pipe(
      Flag.withDescription("Per-path behaviour, repeatable: /path=LATENCY_MS[,ERROR_RATE], e.g. /slow=200,0.05"),
      Flag.atLeast(0)
    )
  },
  Effect.fn(function*({ port, host, latency, errorRate, route }) {
    const routes: Record<string, Route> = {}
    const problems: Array<string> = []
    for (const spec of route) {
      const r = parseRoute(spec)
      if (typeof r === "string") problems.push(r)
      else routes[r[0]] = r[1]
    }
    if (errorRate < 0 || errorRate > 1) problems.push(`--error-rate ${errorRate}: must be between 0 and 1`)
    if (latency < 0) problems.push(`--latency ${latency}: must not be negative`)
    if (problems.length > 0) {
      yield* Console.error(problems.join("\n"))
      process.exitCode = 1
      return
    }
    const served = yield* Effect.result(serveTarget({ port, host, defaults: { latencyMs: latency, errorRate }, routes }))
    if (served._tag === "Failure") {
      yield* Console.error(`grid target: ${served.failure.message}`)
      process.exitCode = 1
      return
    }
    yield* Console.log(`grid target listening on ${served.success.url} (GET /__stats for request counts; ?latency=MS&status=CODE per request)`)
    return yield* Effect.never
  }, Effect.scoped)
).pipe(
  Command.withDescription("Run a small demo HTTP server to load-test against"),
  Command.withExamples([
    { command: "grid target", description: "The demo server on http://127.0.0.1:8080" },
    { command: "grid target --port 9090 --latency 20 --route /slow=200,0.05", description: "20 ms per answer; /slow 200 ms with 5% errors" }
  ])
)
