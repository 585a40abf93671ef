// Shared pieces of the load-tool adapters (jmeter, locust, k6, artillery, gatling): reading
// the protocol's common `params` (users, rampUpSeconds, durationSeconds, rate, target) with
// typed errors, the entry script check, finding a tool's executable, and the argv prefix
// that differs between the process runner (the tool's command) and the docker runner (the
// image's entrypoint is the tool, so only the arguments are passed).
import { accessSync, constants } from "node:fs"
import { delimiter, isAbsolute, join } from "node:path"
import { Effect } from "effect"
import { checkRelativePath } from "../control/decodeCommand.ts"
import type { RunnerName } from "../runner/Backend.ts"
import type { ToolContext } from "./Tool.ts"
import { ToolError } from "./Tool.ts"

/** A load tool's node settings: how to start it (process runner) and its docker image. */
export interface ToolSettings {
  /** argv that starts the tool (process runner); its usual name on PATH by default. */
  readonly command?: ReadonlyArray<string> | undefined
  /** Default image for the docker runner; its entrypoint must be the tool. */
  readonly image?: string | undefined
}

export const invalid = (message: string) => new ToolError({ code: "invalid_command", message })

export interface CommonParams {
  readonly users: number | undefined
  readonly rampUpSeconds: number | undefined
  readonly durationSeconds: number | undefined
  readonly rate: number | undefined
  readonly target: URL | undefined
  /** Extra arguments appended verbatim to the tool's argv (`params.extraArgs`). */
  readonly extraArgs: ReadonlyArray<string>
}

const nonNegative = (params: Record<string, unknown>, key: string, integer: boolean) => {
  const v = params[key]
  if (v === undefined) return Effect.succeed(undefined)
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    return Effect.fail(invalid(`params.${key} must be a ${integer ? "non-negative integer" : "non-negative number"}, got ${JSON.stringify(v)}`))
  }
  return Effect.succeed(v)
}

export const commonParams = (ctx: ToolContext): Effect.Effect<CommonParams, ToolError> =>
  Effect.gen(function*() {
    const params = ctx.command.params ?? {}
    const users = yield* nonNegative(params, "users", true)
    const rampUpSeconds = yield* nonNegative(params, "rampUpSeconds", false)
    const durationSeconds = yield* nonNegative(params, "durationSeconds", false)
    const rate = yield* nonNegative(params, "rate", false)
    let target: URL | undefined
    if (params.target !== undefined) {
      if (typeof params.target !== "string" || !URL.canParse(params.target)) {
        return yield* invalid(`params.target must be a base URL such as http://127.0.0.1:8080, got ${JSON.stringify(params.target)}`)
      }
      target = new URL(params.target)
    }
    const extra = params.extraArgs ?? []
    if (!Array.isArray(extra) || !extra.every((a) => typeof a === "string")) {
      return yield* invalid("params.extraArgs must be an array of strings")
    }
    return { users, rampUpSeconds, durationSeconds, rate, target, extraArgs: extra as Array<string> }
  })

/** The entry script, checked to stay inside the work directory; `what` names it in errors. */
export const entryOf = (ctx: ToolContext, what: string): Effect.Effect<string, ToolError> => {
  const entry = ctx.command.entry
  if (entry === undefined || entry === "") return Effect.fail(invalid(`tool ${ctx.command.tool} needs entry: the ${what} among files`))
  const problem = checkRelativePath(entry)
  return problem ? Effect.fail(invalid(`entry ${problem}`)) : Effect.succeed(entry)
}

/** The argv start: the tool's command for processes, nothing for docker (the image's entrypoint). */
export const argvPrefix = (runner: RunnerName, command: ReadonlyArray<string>): ReadonlyArray<string> =>
  runner === "docker" ? [] : command

/** Whether `exe` is an executable file, looked up on PATH when it has no slash. */
export const executableFound = (exe: string, path = process.env.PATH ?? ""): boolean => {
  const candidates = exe.includes("/") ? [isAbsolute(exe) ? exe : join(process.cwd(), exe)] : path.split(delimiter).filter((d) => d !== "").map((d) => join(d, exe))
  return candidates.some((c) => {
    try {
      accessSync(c, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** `available` for adapters: the command's executable for processes; docker needs only the
 * runner; an external tool never runs in-process. */
export const availableWith = (command: ReadonlyArray<string>) => (runner: RunnerName): Effect.Effect<boolean> =>
  runner === "docker"
    ? Effect.succeed(true)
    : runner === "inprocess"
    ? Effect.succeed(false)
    : Effect.sync(() => command[0] !== undefined && executableFound(command[0]))

/** The last log line matching `pattern`, for failure messages. */
export const lastMatching = (lines: ReadonlyArray<string>, pattern: RegExp): string | undefined => {
  for (let i = lines.length - 1; i >= 0; i--) if (pattern.test(lines[i]!)) return lines[i]
  return undefined
}

/** The common params as environment (`GRID_TARGET`, `GRID_USERS`, ...), for scripts that
 * shape their own load (k6 scenarios, Artillery processors, Locust's constant_throughput). */
export const gridEnv = (p: CommonParams): Record<string, string> => {
  const env: Record<string, string> = {}
  if (p.target !== undefined) env.GRID_TARGET = p.target.href.replace(/\/$/, "")
  if (p.users !== undefined) env.GRID_USERS = String(p.users)
  if (p.rate !== undefined) env.GRID_RATE = String(p.rate)
  if (p.durationSeconds !== undefined) env.GRID_DURATION = String(p.durationSeconds)
  if (p.rampUpSeconds !== undefined) env.GRID_RAMP_UP = String(p.rampUpSeconds)
  return env
}
