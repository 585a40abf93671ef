// Tool `command`: any executable, given as an argv array in `params.command` and run in the
// work directory, never through a shell. Optional `params.results: {path, format}` names the
// result file it writes (relative to the work directory) for ingestion.
import { Effect } from "effect"
import { checkRelativePath } from "../control/decodeCommand.ts"
import type { ToolAdapter } from "./Tool.ts"
import { judgeByExitCode, ToolError } from "./Tool.ts"

const formats = ["jmeter", "jmeter-xml", "locust", "locust-hook", "k6", "artillery"] as const

const invalid = (message: string) => new ToolError({ code: "invalid_command", message })

export const commandTool: ToolAdapter = {
  name: "command",
  defaultImage: undefined,
  available: () => Effect.succeed(true),
  plan: (ctx) =>
    Effect.gen(function*() {
      const argv = ctx.command.params?.command
      if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === "string")) {
        return yield* invalid("tool command needs params.command: a non-empty array of strings (argv, no shell)")
      }
      if (ctx.runner === "docker" && ctx.command.image === undefined) {
        return yield* invalid("tool command with the docker runner needs an image")
      }
      const results = ctx.command.params?.results
      if (results === undefined) return { argv: argv as Array<string>, env: ctx.command.env ?? {} }
      const r = results as { path?: unknown; format?: unknown }
      if (typeof r !== "object" || r === null || typeof r.path !== "string" || !formats.includes(r.format as never)) {
        return yield* invalid(`params.results must be {path, format} with format one of ${formats.join(", ")}`)
      }
      const problem = checkRelativePath(r.path)
      if (problem) return yield* invalid(`params.results.path ${problem}`)
      return {
        argv: argv as Array<string>,
        env: ctx.command.env ?? {},
        results: { path: `${ctx.workDir}/${r.path}`, format: r.format as (typeof formats)[number] }
      }
    }),
  judge: judgeByExitCode
}
