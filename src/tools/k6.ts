// Tool `k6`: `k6 run` on the script named by `entry`, results as k6's JSON output (one line
// per metric point; the `k6` parser reads its `http_req_duration` points). `users` -> `--vus`, `durationSeconds` -> `--duration`, or with `rampUpSeconds`
// two stages (ramp to `users`, then hold). An open model (`rate`) needs a scenario in the
// script: every common param also reaches it as `__ENV.GRID_*` (TARGET, USERS, RATE,
// DURATION, RAMP_UP), since k6 passes the system environment to `__ENV`.
// Exit 99 means thresholds were crossed: the run worked, but it failed its own criteria.
// Stop: SIGTERM, which k6 handles by ending the test run and writing its outputs.
import { Effect } from "effect"
import type { ErrorInfo } from "../protocol/events.ts"
import type { ToolAdapter, ToolOutcome } from "./Tool.ts"
import { judgeByExitCode } from "./Tool.ts"
import { argvPrefix, availableWith, commonParams, entryOf, gridEnv, type ToolSettings } from "./adapterSupport.ts"

export const k6ResultsFile = "grid-k6.json"

export const judgeK6 = (outcome: ToolOutcome): ErrorInfo | undefined =>
  outcome.exit.exitCode === 99
    ? { code: "thresholds_failed", message: "k6 ran, but some thresholds of the script were crossed (exit code 99)" }
    : judgeByExitCode(outcome) ??
      (outcome.samples === 0 ? { code: "no_results", message: "k6 exited 0 but made no request" } : undefined)

export const makeK6Tool = (options: ToolSettings = {}): ToolAdapter => {
  const command = options.command ?? ["k6"]
  return {
    name: "k6",
    defaultImage: options.image ?? "grafana/k6:0.54.0",
    available: availableWith(command),
    plan: (ctx) =>
      Effect.gen(function*() {
        const entry = yield* entryOf(ctx, "script")
        const p = yield* commonParams(ctx)
        const dir = ctx.toolWorkDir
        const load: Array<string> = []
        if (p.rampUpSeconds !== undefined && p.rampUpSeconds > 0 && p.users !== undefined) {
          load.push("--stage", `${p.rampUpSeconds}s:${p.users}`)
          if (p.durationSeconds !== undefined) load.push("--stage", `${p.durationSeconds}s:${p.users}`)
        } else {
          if (p.users !== undefined) load.push("--vus", String(p.users))
          if (p.durationSeconds !== undefined) load.push("--duration", `${p.durationSeconds}s`)
        }
        return {
          argv: [
            ...argvPrefix(ctx.runner, command),
            "run",
            "--no-usage-report",
            "--out", `json=${dir}/${k6ResultsFile}`,
            ...load,
            ...p.extraArgs,
            `${dir}/${entry}`
          ],
          env: { K6_NO_USAGE_REPORT: "true", ...gridEnv(p), ...ctx.command.env },
          results: { path: `${ctx.workDir}/${k6ResultsFile}`, format: "k6" as const }
        }
      }),
    judge: judgeK6
  }
}

export const k6Tool: ToolAdapter = makeK6Tool()
