// `grid stop <testId> [--reason R] [--grace 5s] [--timeout 30s]`: sends `stop` to every node
// still running the test (found from its events and the heartbeats) and waits, bounded, for
// their terminal events. `grid stop --all [--grid G] [--channel C] [--node N]`: the emergency
// stop; one durable order (KV `grid_stops`) that every matching node obeys, barrier waits
// included, now or when it reconnects; prints what stopped. Exit codes: 0 every node stopped
// (or had nothing to stop), 1 not running anywhere, NATS unreachable, or a node that did not
// answer within the bound.
import { Console, Duration, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Controller } from "../controller/Controller.ts"
import { controllerLayer } from "./launch.ts"
import { durationFlag, natsFlags } from "./flags.ts"

const failWith = (message: string) =>
  Effect.gen(function*() {
    yield* Console.error(`grid stop: ${message}`)
    process.exitCode = 1
  })

export const stopCommand = Command.make(
  "stop",
  {
    ...natsFlags,
    testId: Argument.String("testId").pipe(Argument.withDescription("The test to stop (none with --all)"), Argument.optional),
    all: Flag.Boolean("all").pipe(Flag.withDescription("Emergency stop: every test on every matching node, barrier waits included; durable (a node reconnecting later obeys it)"), Flag.withDefault(false)),
    grid: Flag.String("grid").pipe(Flag.withDescription("With --all: only nodes of this grid"), Flag.optional),
    channel: Flag.String("channel").pipe(Flag.withDescription("With --all: only nodes of this release channel"), Flag.optional),
    node: Flag.String("node").pipe(Flag.withDescription("With --all: only this node"), Flag.optional),
    reason: Flag.String("reason").pipe(Flag.withDescription("Echoed in the nodes' stopped events (default \"grid stop\"; \"emergency stop\" with --all)"), Flag.optional),
    grace: durationFlag("grace", "Time the tool gets between SIGTERM and SIGKILL (default: the node's --stop-grace)").pipe(Flag.optional),
    timeout: durationFlag("timeout", "How long to wait for the nodes' terminal events (default 30s; 10s with --all)").pipe(Flag.optional)
  },
  Effect.fn(function*(f) {
    if (f.all) {
      if (Option.isSome(f.testId)) return yield* failWith("give a test id or --all, not both")
      if (Option.isSome(f.grace)) return yield* failWith("--grace does not apply to --all (each node stops with its own --stop-grace)")
      const result = yield* Effect.result(
        Effect.flatMap(Controller, (c) =>
          c.stopAll(
            { gridId: Option.getOrUndefined(f.grid), channel: Option.getOrUndefined(f.channel), nodeId: Option.getOrUndefined(f.node) },
            { ...(Option.isSome(f.reason) ? { reason: f.reason.value } : {}), timeout: Option.getOrElse(f.timeout, () => Duration.seconds(10)) }
          )).pipe(Effect.provide(controllerLayer(f)))
      )
      if (result._tag === "Failure") return yield* failWith((result.failure as { message?: string }).message ?? String(result.failure))
      const outcome = result.success
      yield* Console.log(`emergency stop ${outcome.orderId} stored: matching nodes obey it now or when they reconnect`)
      if (outcome.nodes.length === 0) yield* Console.log("no matching node is up")
      for (const n of outcome.nodes) {
        if (n.tests.length === 0) yield* Console.log(`${n.nodeId}: nothing running`)
        for (const t of n.tests) {
          yield* Console.log(`${n.nodeId}: ${t.testId} ${t.result === "timeout" ? "did not confirm" : `${t.result}${t.reason !== undefined ? ` (${t.reason})` : ""}`}`)
        }
      }
      if (outcome.nodes.some((n) => n.tests.some((t) => t.result === "timeout"))) process.exitCode = 1
      return
    }
    if (Option.isNone(f.testId)) return yield* failWith("give the test id to stop, or --all")
    if (Option.isSome(f.grid) || Option.isSome(f.channel) || Option.isSome(f.node)) return yield* failWith("--grid, --channel and --node go with --all")
    const timeout = Option.getOrElse(f.timeout, () => Duration.seconds(30))
    const testId = f.testId.value
    const result = yield* Effect.result(
      Effect.flatMap(Controller, (c) =>
        c.stop(testId, { reason: Option.getOrElse(f.reason, () => "grid stop"), graceSeconds: Option.getOrUndefined(Option.map(f.grace, (d) => Duration.toMillis(d) / 1000)), timeout })).pipe(
          Effect.provide(controllerLayer(f))
        )
    )
    if (result._tag === "Failure") return yield* failWith((result.failure as { message?: string }).message ?? String(result.failure))
    for (const o of result.success) yield* Console.log(`${o.nodeId}: ${o.result}`)
    if (result.success.some((o) => o.result === "timeout")) process.exitCode = 1
  })
).pipe(
  Command.withDescription("Stop a test on every node running it, or everything (--all)"),
  Command.withExamples([
    { command: "grid stop demo-20260101-120000-ab12", description: "Stop a test on every node running it" },
    { command: "grid stop demo-20260101-120000-ab12 --grace 5s --timeout 1m --reason \"bad deploy\"", description: "With a grace and a bound" },
    { command: "grid stop --all", description: "Emergency: stop every test on every node" },
    { command: "grid stop --all --grid eu --reason \"target down\"", description: "Every test on the nodes of grid eu" }
  ])
)
