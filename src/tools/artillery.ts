// Tool `artillery`: `artillery run` on the script named by `entry`, its JSON report written
// with `--output` (read by the `artillery` parser). `target` -> `--target`. Artillery runs an
// open model: with `rate` and `durationSeconds` the script's phases are replaced (through
// `--overrides`) by an optional ramp (`rampUpSeconds`, from 1 arrival/s up to `rate`) and a
// constant phase at `rate`, with `users` as `maxVusers`; otherwise the script's own phases
// hold. Telemetry is off (ARTILLERY_DISABLE_TELEMETRY). Installing its npm package needs
// `--ignore-scripts` (a dependency's postinstall downloads a browser).
// Stop: SIGTERM, which Artillery handles by ending the run.
import { Effect } from "effect"
import type { ToolAdapter } from "./Tool.ts"
import { judgeByExitCode } from "./Tool.ts"
import { argvPrefix, availableWith, commonParams, entryOf, gridEnv, invalid, type ToolSettings } from "./adapterSupport.ts"

export const artilleryResultsFile = "grid-artillery.json"

export const makeArtilleryTool = (options: ToolSettings = {}): ToolAdapter => {
  const command = options.command ?? ["artillery"]
  return {
    name: "artillery",
    defaultImage: options.image ?? "artilleryio/artillery:2.0.21",
    available: availableWith(command),
    plan: (ctx) =>
      Effect.gen(function*() {
        const entry = yield* entryOf(ctx, "test script")
        const p = yield* commonParams(ctx)
        if (p.rate !== undefined && p.durationSeconds === undefined) {
          return yield* invalid("tool artillery: params.rate needs params.durationSeconds (the phase's length)")
        }
        const phases: Array<Record<string, number>> = []
        if (p.rate !== undefined && p.durationSeconds !== undefined) {
          const cap: Record<string, number> = p.users !== undefined ? { maxVusers: p.users } : {}
          if (p.rampUpSeconds !== undefined && p.rampUpSeconds > 0) {
            phases.push({ duration: p.rampUpSeconds, arrivalRate: Math.min(1, p.rate), rampTo: p.rate, ...cap })
          }
          phases.push({ duration: p.durationSeconds, arrivalRate: p.rate, ...cap })
        }
        const dir = ctx.toolWorkDir
        return {
          argv: [
            ...argvPrefix(ctx.runner, command),
            "run",
            "--output", `${dir}/${artilleryResultsFile}`,
            ...(p.target !== undefined ? ["--target", String(ctx.command.params?.target).replace(/\/+$/, "")] : []),
            ...(phases.length > 0 ? ["--overrides", JSON.stringify({ config: { phases } })] : []),
            ...p.extraArgs,
            `${dir}/${entry}`
          ],
          env: { ARTILLERY_DISABLE_TELEMETRY: "true", ...gridEnv(p), ...ctx.command.env },
          results: { path: `${ctx.workDir}/${artilleryResultsFile}`, format: "artillery" as const }
        }
      }),
    judge: judgeByExitCode
  }
}

export const artilleryTool: ToolAdapter = makeArtilleryTool()
