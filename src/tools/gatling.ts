// Tool `gatling`: Gatling's bundle (`gatling.sh`) on the simulation class named by
// `params.simulation`, compiled from the folder that holds `entry` (the simulation source).
// The common params reach the simulation as Java system properties through JAVA_OPTS
// (`-Dusers`, `-DrampUp`, `-Dduration`, `-Drate`, `-Dtarget`: `System.getProperty("users")`)
// and as GRID_* environment. Gatling's simulation.log has no grid parser, so this tool
// publishes no result windows: only the end (exit 0, or 2 when its assertions failed).
// Stop: SIGTERM (the JVM exits).
import { Effect } from "effect"
import type { ErrorInfo } from "../protocol/events.ts"
import type { ToolAdapter, ToolOutcome } from "./Tool.ts"
import { judgeByExitCode } from "./Tool.ts"
import { argvPrefix, availableWith, commonParams, entryOf, gridEnv, invalid, type ToolSettings } from "./adapterSupport.ts"
import { hostEnv } from "../runner/ToolEnv.ts"

export const gatlingResultsDir = "grid-gatling-results"

export const judgeGatling = (outcome: ToolOutcome): ErrorInfo | undefined =>
  outcome.exit.exitCode === 2
    ? { code: "assertions_failed", message: "Gatling ran, but some assertions of the simulation failed (exit code 2)" }
    : judgeByExitCode(outcome)

export const makeGatlingTool = (options: ToolSettings = {}): ToolAdapter => {
  const command = options.command ?? ["gatling.sh"]
  return {
    name: "gatling",
    defaultImage: options.image ?? "denvazh/gatling:3.2.1",
    available: availableWith(command),
    plan: (ctx) =>
      Effect.gen(function*() {
        const entry = yield* entryOf(ctx, "simulation source")
        const p = yield* commonParams(ctx)
        const simulation = ctx.command.params?.simulation
        if (typeof simulation !== "string" || !/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(simulation)) {
          return yield* invalid("tool gatling needs params.simulation: the simulation's fully qualified class name")
        }
        const props: Array<string> = []
        if (p.users !== undefined) props.push(`-Dusers=${p.users}`)
        if (p.rampUpSeconds !== undefined) props.push(`-DrampUp=${p.rampUpSeconds}`)
        if (p.durationSeconds !== undefined) props.push(`-Dduration=${p.durationSeconds}`)
        if (p.rate !== undefined) props.push(`-Drate=${p.rate}`)
        if (p.target !== undefined) props.push(`-Dtarget=${p.target.href.replace(/\/$/, "")}`)
        const env: Record<string, string> = { ...hostEnv(ctx.runner, ["JAVA_HOME", "JRE_HOME", "GATLING_HOME"]), ...gridEnv(p), ...ctx.command.env }
        const javaOpts = [env.JAVA_OPTS, ...props].filter((s) => s !== undefined && s !== "").join(" ")
        if (javaOpts !== "") env.JAVA_OPTS = javaOpts
        const dir = ctx.toolWorkDir
        const slash = entry.lastIndexOf("/")
        const sourceDir = slash < 0 ? dir : `${dir}/${entry.slice(0, slash)}`
        return {
          argv: [
            ...argvPrefix(ctx.runner, command),
            "-s", simulation,
            "-sf", sourceDir,
            "-rf", `${dir}/${gatlingResultsDir}`,
            "-nr",
            ...p.extraArgs
          ],
          env
        }
      }),
    judge: judgeGatling
  }
}

export const gatlingTool: ToolAdapter = makeGatlingTool()
