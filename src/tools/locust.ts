// Tool `locust`: Locust headless on the locustfile named by `entry`, with grid's event hook
// (locust/grid_locust_hook.py, copied into the work directory so a container sees it too)
// loaded beside it. The hook writes one JSON line per request, the reliable source: Locust's
// CSVs are flushed only every 10 s and not at exit. `users` -> `-u`, `users / rampUpSeconds`
// -> `-r`, `durationSeconds` -> `-t`, `target` -> `-H`; Locust runs a closed model, so `rate`
// reaches the locustfile only as GRID_RATE (for `constant_throughput`), like every common
// param as GRID_* (see gridEnv). Request failures
// are results, not a failed run (`--exit-code-on-error 0`). Stop: SIGTERM, which Locust
// handles by stopping its users and quitting.
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import type { ErrorInfo } from "../protocol/events.ts"
import type { ToolAdapter, ToolOutcome } from "./Tool.ts"
import { judgeByExitCode, ToolError } from "./Tool.ts"
import { argvPrefix, availableWith, commonParams, entryOf, gridEnv, invalid, type ToolSettings } from "./adapterSupport.ts"

export const locustHookFile = "grid_locust_hook.py"
export const locustResultsFile = "grid-locust-requests.jsonl"
/** The hook's text, inlined by scripts/build.ts into bundles (dist/grid has no files beside it). */
declare const __GRID_LOCUST_HOOK__: string | undefined
const hookText = (): string =>
  typeof __GRID_LOCUST_HOOK__ !== "undefined" ? __GRID_LOCUST_HOOK__ : readFileSync(join(import.meta.dirname, "locust", locustHookFile), "utf8")

export const judgeLocust = (outcome: ToolOutcome): ErrorInfo | undefined =>
  judgeByExitCode(outcome) ??
    (outcome.samples === 0 ? { code: "no_results", message: "Locust exited 0 but made no request" } : undefined)

/** `command`: Debian's Locust is `/usr/bin/locust` (the `python3` first on PATH may lack it). */
export const makeLocustTool = (options: ToolSettings = {}): ToolAdapter => {
  const command = options.command ?? ["locust"]
  return {
    name: "locust",
    defaultImage: options.image ?? "locustio/locust:2.12.1",
    available: availableWith(command),
    plan: (ctx) =>
      Effect.gen(function*() {
        const entry = yield* entryOf(ctx, "locustfile")
        const p = yield* commonParams(ctx)
        const params = ctx.command.params ?? {}
        const classes = params.userClasses ?? []
        if (!Array.isArray(classes) || !classes.every((c) => typeof c === "string")) {
          return yield* invalid("params.userClasses must be an array of User class names")
        }
        yield* Effect.try({
          try: () => writeFileSync(join(ctx.workDir, locustHookFile), hookText()),
          catch: (e) => new ToolError({ code: "workdir_failed", message: `cannot copy grid's Locust hook: ${(e as Error).message}` })
        })
        const users = p.users ?? 1
        const spawnRate = p.rampUpSeconds !== undefined && p.rampUpSeconds > 0 ? users / p.rampUpSeconds : Math.max(users, 1)
        const dir = ctx.toolWorkDir
        const env: Record<string, string> = {
          PYTHONUNBUFFERED: "1",
          ...gridEnv(p),
          ...ctx.command.env,
          GRID_LOCUST_RESULTS: `${dir}/${locustResultsFile}`
        }
        return {
          argv: [
            ...argvPrefix(ctx.runner, command),
            "-f", `${dir}/${entry},${dir}/${locustHookFile}`,
            "--headless",
            "-u", String(users),
            "-r", String(spawnRate),
            ...(p.durationSeconds !== undefined ? ["-t", `${Math.max(1, Math.ceil(p.durationSeconds))}s`] : []),
            ...(p.target !== undefined ? ["-H", String(params.target).replace(/\/+$/, "")] : []),
            "--csv", `${dir}/grid-locust`,
            "--only-summary",
            "--exit-code-on-error", "0",
            // Let users finish the request in flight when the run time ends: Locust records a
            // request only when it completes, so an aborted one was served but never counted.
            "--stop-timeout", "5",
            ...p.extraArgs,
            ...(classes as Array<string>)
          ],
          env,
          results: { path: `${ctx.workDir}/${locustResultsFile}`, format: "locust-hook" as const }
        }
      }),
    judge: judgeLocust
  }
}

export const locustTool: ToolAdapter = makeLocustTool()
