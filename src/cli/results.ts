// `grid results <testId> [--json] [--html report.html] [--plan plan.yaml] [--artifacts DIR]`: rebuilds a test's
// merged report later from the GRID_RESULTS and GRID_EVENTS streams (windows merged by
// HdrHistogram, repeated windows dropped), printed like `grid launch`'s; `--plan` evaluates
// that plan's thresholds; `--artifacts` downloads the files its nodes kept (screenshots,
// resultsArtifacts.ts). Exit codes: 0 reported, 1 nothing stored for the test, an invalid
// plan or NATS unreachable, 99 a threshold breached.
import { Clock, Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { writeFileSync } from "node:fs"
import { Controller } from "../controller/Controller.ts"
import { loadPlan } from "../controller/Plan.ts"
import { reportJson, reportText } from "../controller/Report.ts"
import { DashboardFeed } from "../dashboard/Feed.ts"
import type { DashboardMeta } from "../dashboard/Model.ts"
import { launchData, reportHtml } from "../dashboard/ReportData.ts"
import { commandLine, dashboardFlag, flagsInForce, serveFeed, titleOf } from "./dashboardFlags.ts"
import { controllerLayer } from "./launch.ts"
import { natsAuthOf, natsFlags } from "./flags.ts"
import { downloadArtifacts } from "./resultsArtifacts.ts"
import { EXIT_THRESHOLDS } from "./run.ts"

export const resultsCommand = Command.make(
  "results",
  {
    ...natsFlags,
    testId: Argument.String("testId").pipe(Argument.withDescription("The test to report on")),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as JSON (the same as grid launch --out)"), Flag.withDefault(false)),
    html: Flag.String("html").pipe(Flag.withDescription("Write a self-contained HTML report"), Flag.optional),
    plan: Flag.String("plan").pipe(Flag.withDescription("Evaluate this plan's thresholds"), Flag.optional),
    artifacts: Flag.String("artifacts").pipe(
      Flag.withDescription("Download the files the test's nodes kept (failed browser steps' screenshots) into DIR/<nodeId>/"),
      Flag.optional
    ),
    dashboard: dashboardFlag
  },
  Effect.fn(function*(f) {
    let thresholds: ReadonlyArray<import("../engine/Thresholds.ts").Threshold> = []
    let planName: string | undefined
    if (Option.isSome(f.plan)) {
      const plan = yield* Effect.result(loadPlan(f.plan.value))
      if (plan._tag === "Failure") {
        yield* Console.error(plan.failure.message)
        process.exitCode = 1
        return
      }
      thresholds = plan.success.thresholds
      planName = titleOf(f.plan.value, plan.success.name)
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
    const meta: DashboardMeta = {
      kind: "results",
      title: planName ?? f.testId,
      testId: f.testId,
      commandLine: commandLine(),
      flags: flagsInForce({ plan: Option.getOrUndefined(f.plan), thresholds: thresholds.map((t) => t.source).join("; ") }),
      windowMs: 1000
    }
    const data = launchData(meta, r, r.summary.startedAt + r.summary.durationMs)
    if (Option.isSome(f.html)) writeFileSync(f.html.value, reportHtml(data))
    if (Option.isSome(f.artifacts)) {
      const got = yield* Effect.result(downloadArtifacts({ url: f.natsUrl, auth: natsAuthOf(f), subjectPrefix: f.subjectPrefix }, f.testId, f.artifacts.value))
      if (got._tag === "Failure") {
        yield* Console.error(`grid results: artifacts: ${(got.failure as { message?: string }).message ?? String(got.failure)}`)
        process.exitCode = 1
      } else {
        for (const p of got.success.problems) yield* Console.error(`grid results: ${p}`)
        yield* Console.error(`artifacts: ${got.success.written.length} written to ${f.artifacts.value}`)
        if (got.success.problems.length > 0) process.exitCode = 1
      }
    }
    if (r.summary.thresholds.some((t) => !t.ok)) process.exitCode = EXIT_THRESHOLDS
    const addr = f.dashboard
    if (Option.isSome(addr)) {
      // A finished test: the page gets everything at once, and is served until Ctrl-C.
      const feed = new DashboardFeed(data.meta, { points: () => data.points, state: () => data.state })
      feed.finish(data.points, data.state, yield* Clock.currentTimeMillis)
      const served = yield* Effect.result(Effect.scoped(Effect.gen(function*() {
        const page = yield* serveFeed(addr.value, feed)
        yield* Console.error(`dashboard: ${page.url} (Ctrl-C to stop)`)
        return yield* Effect.never
      })))
      if (served._tag === "Failure") {
        yield* Console.error(`grid results: ${served.failure.message}`)
        process.exitCode = 1
      }
    }
  })
).pipe(
  Command.withDescription("Rebuild a test's merged report from the result and event streams"),
  Command.withExamples([
    { command: "grid results demo-20260101-120000-ab12", description: "The merged report of a past test" },
    { command: "grid results demo-20260101-120000-ab12 --plan plan.yaml --html report.html", description: "With the plan's thresholds, as HTML" },
    { command: "grid results demo-20260101-120000-ab12 --artifacts shots/", description: "Download its failed browser steps' screenshots" },
    { command: "grid results demo-20260101-120000-ab12 --dashboard", description: "Its charts and tables in the browser (served until Ctrl-C)" }
  ])
)
