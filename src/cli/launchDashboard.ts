// What `grid launch` adds for its page: the description of the launch (plan name, test id,
// nodes, command line, settings), the live feed when `--dashboard` is given (merged seconds and
// node statuses from the live view, each node's windows as the launch took them), and the HTML
// report of its end. Kept here so launch.ts only forwards its callbacks.
import { Clock, Duration, Effect, Option } from "effect"
import type { LaunchUpdate } from "../controller/LiveView.ts"
import type { Plan } from "../controller/Plan.ts"
import type { LaunchReport } from "../controller/Report.ts"
import type { Share } from "../controller/Split.ts"
import { DashboardFeed } from "../dashboard/Feed.ts"
import type { DashboardMeta } from "../dashboard/Model.ts"
import { launchData, launchProblems, nodeRows, reportHtml } from "../dashboard/ReportData.ts"
import { LaunchSource } from "../dashboard/Sources.ts"
import type { ResultWindow } from "../protocol/results.ts"
import { commandLine, flagsInForce, serveFeed, titleOf } from "./dashboardFlags.ts"

export interface LaunchPage {
  readonly onUpdate: (u: LaunchUpdate) => void
  readonly onWindow: (w: ResultWindow) => void
  /** The launch has its test id and its nodes' shares. */
  readonly started: (testId: string, shares: ReadonlyArray<Share>) => void
  /** The launch's end: open pages get the final figures (at most 5 s). */
  readonly finished: (r: LaunchReport) => Effect.Effect<void>
  /** The HTML report of the launch's end. */
  readonly html: (r: LaunchReport) => string
}

const loadOf = (plan: Plan): DashboardMeta["load"] =>
  plan.load.kind === "users" ? "users" : plan.load.kind === "rate" ? "arrivals" : plan.load.kind === "stages" ? (plan.load.load.model === "open" ? "arrivals" : "users") : undefined

/** The launch's page: served on `dashboard` when given (its URL told through `say`). */
export const launchPage = Effect.fn("dashboard.launchPage")(function*(plan: Plan, planFile: string, testId: string | undefined, dashboard: Option.Option<string>, say: (line: string) => void) {
  const startedAt = yield* Clock.currentTimeMillis
  let meta: DashboardMeta = {
    kind: "launch",
    title: titleOf(planFile, plan.name),
    testId,
    commandLine: commandLine(),
    flags: flagsInForce({
      plan: planFile,
      tool: plan.tool,
      users: plan.load.kind === "users" ? plan.load.users : undefined,
      rate: plan.load.kind === "rate" ? `${plan.load.rate}/s` : undefined,
      duration: plan.durationMs === undefined ? undefined : `${plan.durationMs / 1000}s`,
      thresholds: plan.thresholds.map((t) => t.source).join("; ")
    }),
    plannedMs: plan.durationMs,
    load: loadOf(plan),
    windowMs: 1000
  }
  const source = Option.isSome(dashboard)
    ? new LaunchSource({ order: plan.requestNames, thresholds: plan.thresholds, load: meta.load, startedAt })
    : undefined
  const feed = source === undefined ? undefined : new DashboardFeed(meta, source)
  const page = feed === undefined || Option.isNone(dashboard) ? undefined : yield* serveFeed(dashboard.value, feed)
  if (page !== undefined) say(`dashboard: ${page.url}`)
  return {
    onUpdate: (u) => source?.update(u),
    onWindow: (w) => source?.window(w),
    started: (id, shares) => {
      meta = { ...meta, testId: id, flags: { ...meta.flags, nodes: shares.map((s) => s.nodeId).join(",") } }
      feed?.setMeta(meta)
      source?.shares(shares)
    },
    finished: (r) =>
      Effect.gen(function*() {
        if (feed === undefined || page === undefined) return
        feed.finish(r.points, { summary: r.summary, nodes: nodeRows(r), problems: launchProblems(r) }, yield* Clock.currentTimeMillis)
        yield* page.drain(Duration.seconds(5))
      }),
    html: (r) => reportHtml(launchData(meta, r, r.summary.startedAt + r.summary.durationMs))
  } satisfies LaunchPage
})
