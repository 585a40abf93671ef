// `grid launch <plan> [--nodes a,b | --grid G --count N | --channel C --label k=v] [--barrier]
// [--tolerate-node-loss] [--out summary.json] [--html report.html]`: runs a plan on many nodes
// through the Controller service and shows one live merged view (a line per merged second,
// a line per node status change), then `grid run`'s summary table, thresholds and reports.
// Ctrl-C stops the test on every node (bounded) and still prints the summary; a launch killed
// outright stops renewing its lease and the nodes stop the test themselves (--lease, default
// 30s; --detach launches carry none). Selected nodes
// still busy (a test that just ended on them) are waited for, up to --wait-idle.
// Exit codes: 0 ok, 1 invalid plan, bad selection or a failed launch (node lost, rejected),
// 99 a threshold breached, 130 interrupted.
import { Console, Duration, Effect, Layer, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { writeFileSync } from "node:fs"
import { Controller } from "../controller/Controller.ts"
import type { LaunchUpdate } from "../controller/Launch.ts"
import { loadPlan } from "../controller/Plan.ts"
import { type LaunchReport, reportJson, reportText } from "../controller/Report.ts"
import { dashboardFlag } from "./dashboardFlags.ts"
import { onInterrupt } from "./exitCode.ts"
import { launchPage } from "./launchDashboard.ts"
import { durationFlag, natsAuthOf, natsFlags } from "./flags.ts"
import { outputProblem } from "./overrides.ts"
import { EXIT_ERROR, EXIT_THRESHOLDS } from "./run.ts"
import { httpAddrFlag, httpLingerFlag, serveMetrics } from "./runHttpFlags.ts"
import { otlpEndpointFlag, tracingLayer } from "./tracing.ts"

/** A launch's lease when neither the plan nor --lease gives one. */
export const DEFAULT_LEASE_SECONDS = 30

type NatsFlagValues = Parameters<typeof natsAuthOf>[0] & {
  readonly natsUrl: string
  readonly subjectPrefix: string
  readonly streamReplicas: Option.Option<number>
}

/** The Controller over its own NATS connection, from the shared NATS flags. */
export const controllerLayer = (f: NatsFlagValues): Layer.Layer<Controller, unknown> =>
  Controller.layerNats({ url: f.natsUrl, auth: natsAuthOf(f), subjectPrefix: f.subjectPrefix, streamReplicas: Option.getOrUndefined(f.streamReplicas) })

const clock = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`
}
const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))

/** One line per event of the live view. */
export const updateLine = (u: LaunchUpdate): string => {
  switch (u.type) {
    case "phase":
      return u.message
    case "node":
      return `node ${u.nodeId}: ${u.status}${u.error ? ` (${u.error})` : ""}`
    case "window": {
      const p = u.point
      const running = u.nodes.filter((n) => n.status === "running").length
      const behind = u.nodes.filter((n) => n.status === "running" && n.lastSeq < p.seq).map((n) => n.nodeId)
      const pct = u.total.count === 0 ? "0%" : `${((u.total.errors / u.total.count) * 100).toFixed(2)}%`
      return [
        clock((p.seq + 1) * 1000),
        `nodes ${running}/${u.nodes.length} running`,
        `rps ${Math.round(p.count / (p.durationMs / 1000))}`,
        `p50 ${ms(p.latencyMs.p50)} p95 ${ms(p.latencyMs.p95)} p99 ${ms(p.latencyMs.p99)} ms`,
        `errors ${u.total.errors} (${pct})`,
        ...(behind.length > 0 ? [`late: ${behind.join(",")}`] : [])
      ].join("  ")
    }
  }
}

/** Prints the report, writes `--out` / `--html`, and sets the exit code from the outcome. */
export const finishOutputs = (r: LaunchReport, htmlText: (r: LaunchReport) => string, out: Option.Option<string>, html: Option.Option<string>) =>
  Effect.gen(function*() {
    // `--out -`: stdout carries the JSON alone, the text goes to stderr.
    const piped = Option.isSome(out) && out.value === "-"
    yield* (piped ? Console.error : Console.log)(`\n${reportText(r)}`)
    if (Option.isSome(out)) piped ? process.stdout.write(reportJson(r, "launch")) : writeFileSync(out.value, reportJson(r, "launch"))
    if (Option.isSome(html)) writeFileSync(html.value, htmlText(r))
    const breached = r.summary.thresholds.filter((t) => !t.ok).map((t) => t.threshold)
    if (breached.length > 0) yield* Console.error(`thresholds breached: ${breached.join("; ")}`)
    const code = r.outcome === "failed" ? EXIT_ERROR : r.outcome === "interrupted" ? 130 : r.outcome === "thresholds" ? EXIT_THRESHOLDS : 0
    process.exitCode = code
    onInterrupt.exitCode = code
  })

export const launchCommand = Command.make(
  "launch",
  {
    ...natsFlags,
    plan: Argument.String("plan").pipe(Argument.withDescription("Plan file (YAML or JSON): tool, files, params, thresholds; builtin: scenario (docs/scenarios.md)")),
    nodes: Flag.String("nodes").pipe(Flag.withDescription("Comma-separated node ids to run on"), Flag.optional),
    grid: Flag.String("grid").pipe(Flag.withDescription("Only nodes of this grid"), Flag.optional),
    count: Flag.Int("count").pipe(Flag.withDescription("How many idle nodes to take (default: every matching idle node)"), Flag.optional),
    channel: Flag.String("channel").pipe(Flag.withDescription("Only nodes of this release channel"), Flag.optional),
    label: Flag.KeyValuePair("label").pipe(Flag.withDescription("Only nodes with this k=v label (repeatable)"), Flag.optional),
    barrier: Flag.Boolean("barrier").pipe(Flag.withDescription("Start by a barrier: every node ready before any goes (default on for more than one node; --no-barrier)"), Flag.optional),
    tolerateNodeLoss: Flag.Boolean("tolerate-node-loss").pipe(Flag.withDescription("Keep going when a node is lost (said so in the summary; default: fail the launch and stop the others)"), Flag.withDefault(false)),
    testId: Flag.String("test-id").pipe(Flag.withDescription("Test id (default: <plan name>-<time>-<random>)"), Flag.optional),
    barrierTimeout: durationFlag("barrier-timeout", "How long nodes may take to get ready at the barrier (default 60s)").pipe(Flag.withDefault(Duration.seconds(60))),
    waitIdle: durationFlag("wait-idle", "How long to wait for selected nodes that are still busy to become idle; 0: refuse at once (default 30s)").pipe(
      Flag.withDefault(Duration.seconds(30))
    ),
    lease: durationFlag("lease", "The launch's lease, renewed while it runs: a node whose test's lease is not renewed for this long stops it (default: the plan's lease, else 30s)").pipe(Flag.optional),
    detach: Flag.Boolean("detach").pipe(Flag.withDescription("Fire and forget: start the test, print its id and exit; no lease (bounded by the test's duration and each node's --max-duration)"), Flag.withDefault(false)),
    out: Flag.String("out").pipe(Flag.withDescription("Write the merged summary (and per-second windows) as JSON; - for stdout"), Flag.optional),
    html: Flag.String("html").pipe(Flag.withDescription("Write a self-contained HTML report"), Flag.optional),
    otlpEndpoint: otlpEndpointFlag,
    httpAddr: httpAddrFlag,
    httpLinger: httpLingerFlag,
    dashboard: dashboardFlag
  },
  Effect.fn(function*(f) {
    const flagProblems = [
      outputProblem("--out", f.out),
      outputProblem("--html", f.html),
      Option.isSome(f.count) && f.count.value < 1 ? `--count ${f.count.value}: must be at least 1` : undefined,
      Option.isSome(f.lease) && Duration.toMillis(f.lease.value) <= 0 ? "--lease: must be more than 0 (use --detach for a launch without a lease)" : undefined,
      f.detach && Option.isSome(f.lease) ? "--lease and --detach: a detached launch carries no lease" : undefined,
      f.detach && Option.isSome(f.dashboard) ? "--dashboard and --detach: a detached launch exits once started; watch it with grid results <testId> --dashboard when it has ended" : undefined,
      Option.isSome(f.nodes) && f.nodes.value.split(",").every((n) => n.trim() === "") ? "--nodes: give node ids, e.g. --nodes node-1,node-2" : undefined
    ].filter((p) => p !== undefined)
    if (flagProblems.length > 0) {
      yield* Console.error(flagProblems.map((p) => `grid launch: ${p}`).join("\n"))
      process.exitCode = EXIT_ERROR
      return
    }
    const loaded = yield* Effect.result(loadPlan(f.plan))
    if (loaded._tag === "Failure") {
      yield* Console.error(loaded.failure.message)
      process.exitCode = EXIT_ERROR
      return
    }
    const plan = loaded.success
    const say = Option.isSome(f.out) && f.out.value === "-" ? console.error : console.log
    const program = Effect.gen(function*() {
      // `--http-addr`: the merged windows and node statuses for Prometheus, served from here on.
      const metrics = Option.isSome(f.httpAddr) ? new (yield* Effect.promise(() => import("../report/RunMetrics.ts"))).RunMetrics("launch") : undefined
      const http = metrics === undefined ? undefined : yield* serveMetrics(f.httpAddr, metrics)
      if (http !== undefined) say(`serving /metrics and /healthz on ${http.url}`)
      // `--dashboard`: the live page; the HTML report's description of the launch either way.
      const page = yield* launchPage(plan, f.plan, Option.getOrUndefined(f.testId), f.dashboard, say)
      const onUpdate = (u: LaunchUpdate) => {
        if (u.type === "node") metrics?.nodeStatus(u.nodeId, u.status)
        page.onUpdate(u)
        say(updateLine(u))
      }
      const controller = yield* Controller
      const launch = yield* controller.launch(plan, {
        nodes: Option.getOrUndefined(Option.map(f.nodes, (s) => s.split(",").map((n) => n.trim()).filter((n) => n !== ""))),
        grid: Option.getOrUndefined(f.grid),
        count: Option.getOrUndefined(f.count),
        channel: Option.getOrUndefined(f.channel),
        labels: Option.getOrUndefined(f.label)
      }, {
        testId: Option.getOrUndefined(f.testId),
        barrier: Option.getOrUndefined(f.barrier),
        tolerateNodeLoss: f.tolerateNodeLoss,
        barrierTimeout: f.barrierTimeout,
        waitIdle: f.waitIdle,
        lease: f.detach ? undefined : Option.getOrElse(f.lease, () => Duration.seconds(plan.leaseSeconds ?? DEFAULT_LEASE_SECONDS)),
        detach: f.detach,
        onUpdate,
        onWindow: (w) => {
          metrics?.add(w)
          page.onWindow(w)
        }
      })
      page.started(launch.testId, launch.shares)
      for (const share of launch.shares) metrics?.addNode(share.nodeId)
      if (f.detach) {
        say(`test ${launch.testId} detached on ${launch.shares.map((s) => s.nodeId).join(", ")}: no lease; follow it with \`grid report ${launch.testId}\`, end it with \`grid stop ${launch.testId}\``)
        return
      }
      const report = yield* launch.await.pipe(
        Effect.onInterrupt(() =>
          Effect.gen(function*() {
            say("\ninterrupted: stopping the test on every node")
            const r = yield* launch.abort("interrupted (Ctrl-C)")
            yield* finishOutputs(r, page.html, f.out, f.html)
            yield* page.finished(r)
          })
        )
      )
      yield* finishOutputs(report, page.html, f.out, f.html)
      yield* page.finished(report)
      if (http !== undefined) yield* http.lingerForScrape(Option.getOrElse(f.httpLinger, () => Duration.zero))
    }).pipe(
      Effect.scoped,
      // The root span of the launch's trace; every node's spans of the test are its children.
      Effect.withSpan("grid.launch", { attributes: { "grid.plan": f.plan, "grid.tool": plan.tool } }),
      Effect.provide(controllerLayer(f)),
      Effect.provide(tracingLayer(f.otlpEndpoint, { serviceName: "grid-launch" }))
    )
    const result = yield* Effect.result(program)
    if (result._tag === "Failure") {
      const e = result.failure as { message?: string }
      yield* Console.error(`grid launch: ${e.message ?? String(e)}`)
      process.exitCode = EXIT_ERROR
    }
  })
).pipe(
  Command.withDescription("Run a plan on many grid nodes and merge their results live"),
  Command.withExamples([
    { command: "grid launch examples/plan.yaml --nodes node-1,node-2", description: "Split the plan's load over two named nodes" },
    { command: "grid launch examples/plan.yaml --count 2 --dashboard", description: "Watch the merged figures and each node live in the browser (the URL is printed)" },
    { command: "grid launch plan.yaml --grid eu --count 3 --out summary.json --html report.html", description: "Three idle nodes of grid eu, reports written" },
    { command: "grid launch plan.yaml --nodes node-1 --wait-idle 2m --out - | jq .outcome", description: "In CI: wait for the node, JSON on stdout" }
  ])
)
