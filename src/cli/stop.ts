// `grid stop <testId> [--reason R] [--grace 5s] [--timeout 30s]`: sends `stop` to every node
// still running the test (found from its events and the heartbeats) and waits, bounded, for
// their terminal events. Exit codes: 0 every node stopped, 1 not running anywhere, NATS
// unreachable, or a node that did not answer within the bound.
import { Console, Duration, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Controller } from "../controller/Controller.ts"
import { controllerLayer } from "./launch.ts"
import { durationFlag, natsFlags } from "./flags.ts"

export const stopCommand = Command.make(
  "stop",
  {
    ...natsFlags,
    testId: Argument.String("testId").pipe(Argument.withDescription("The test to stop")),
    reason: Flag.String("reason").pipe(Flag.withDescription("Echoed in the nodes' stopped events (default \"grid stop\")"), Flag.optional),
    grace: durationFlag("grace", "Time the tool gets between SIGTERM and SIGKILL (default: the node's --stop-grace)").pipe(Flag.optional),
    timeout: durationFlag("timeout", "How long to wait for the nodes' terminal events (default 30s)").pipe(Flag.withDefault(Duration.seconds(30)))
  },
  Effect.fn(function*(f) {
    const timeout = f.timeout
    const result = yield* Effect.result(
      Effect.flatMap(Controller, (c) =>
        c.stop(f.testId, { reason: Option.getOrElse(f.reason, () => "grid stop"), graceSeconds: Option.getOrUndefined(Option.map(f.grace, (d) => Duration.toMillis(d) / 1000)), timeout })).pipe(
          Effect.provide(controllerLayer(f))
        )
    )
    if (result._tag === "Failure") {
      yield* Console.error(`grid stop: ${(result.failure as { message?: string }).message ?? String(result.failure)}`)
      process.exitCode = 1
      return
    }
    for (const o of result.success) yield* Console.log(`${o.nodeId}: ${o.result}`)
    if (result.success.some((o) => o.result === "timeout")) process.exitCode = 1
  })
).pipe(
  Command.withDescription("Stop a test on every node running it"),
  Command.withExamples([
    { command: "grid stop demo-20260101-120000-ab12", description: "Stop a test on every node running it" },
    { command: "grid stop demo-20260101-120000-ab12 --grace 5s --timeout 1m --reason \"bad deploy\"", description: "With a grace and a bound" }
  ])
)
