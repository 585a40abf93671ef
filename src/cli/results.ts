// `grid results <testId> [--json] [--html report.html] [--plan plan.yaml]`: rebuilds a test's
// merged report later from the GRID_RESULTS and GRID_EVENTS streams (windows merged by
// HdrHistogram, repeated windows dropped), printed like `grid launch`'s; `--plan` evaluates
// that plan's thresholds. Exit codes: 0 reported, 1 nothing stored for the test, an invalid
// plan or NATS unreachable, 99 a threshold breached.
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { writeFileSync } from "node:fs"
import { Controller } from "../controller/Controller.ts"
import { loadPlan } from "../controller/Plan.ts"
import { reportHtml, reportJson, reportText } from "../controller/Report.ts"
import { controllerLayer } from "./launch.ts"
import { natsFlags } from "./flags.ts"
import { EXIT_THRESHOLDS } from "./run.ts"

export const resultsCommand = Command.make(
  "results",
  {
    ...natsFlags,
    testId: Argument.String("testId").pipe(Argument.withDescription("The test to report on")),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON (the same as grid launch --out)"), Flag.withDefault(false)),
    html: Flag.String("html").pipe(Flag.withDescription("Write a self-contained HTML report"), Flag.optional),
    plan: Flag.String("plan").pipe(Flag.withDescription("Evaluate this plan's thresholds"), Flag.optional)
  },
  Effect.fn(function*(f) {
    let thresholds: ReadonlyArray<import("../engine/Thresholds.ts").Threshold> = []
    if (Option.isSome(f.plan)) {
      const plan = yield* Effect.result(loadPlan(f.plan.value))
      if (plan._tag === "Failure") {
        yield* Console.error(plan.failure.message)
        process.exitCode = 1
        return
      }
      thresholds = plan.success.thresholds
    }
    const result = yield* Effect.result(
      Effect.flatMap(Controller, (c) => c.report(f.testId, thresholds)).pipe(Effect.provide(controllerLayer(f)))
    )
    if (result._tag === "Failure") {
      yield* Console.error(`grid results: ${(result.failure as { message?: string }).message ?? String(result.failure)}`)
      process.exitCode = 1
      return
    }
    const r = result.success
    yield* Console.log(f.json ? reportJson(r, "results").trimEnd() : reportText(r))
    if (Option.isSome(f.html)) writeFileSync(f.html.value, reportHtml(`grid results ${f.testId}`, r))
    if (r.summary.thresholds.some((t) => !t.ok)) process.exitCode = EXIT_THRESHOLDS
  })
).pipe(
  Command.withDescription("Rebuild a test's merged report from the result and event streams"),
  Command.withExamples([
    { command: "grid results demo-20260101-120000-ab12", description: "The merged report of a past test" },
    { command: "grid results demo-20260101-120000-ab12 --plan plan.yaml --html report.html", description: "With the plan's thresholds, as HTML" }
  ])
)
