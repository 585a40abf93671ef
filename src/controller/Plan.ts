// A launch plan (`grid launch <plan>`, YAML or JSON): which tool, its files, entry, params,
// env, limits and thresholds; for `tool: builtin` the engine's scenario inline under
// `scenario:`. Everything is checked here, before the controller talks to any node, and every
// problem is reported together with its path.
import { Effect, FileSystem, Path, Result, Schema, SchemaIssue } from "effect"
import { parse as parseYaml } from "yaml"
import { checkRelativePath } from "../control/decodeCommand.ts"
import type { Load } from "../engine/Scenario.ts"
import { fileProblem } from "../engine/FileProblem.ts"
import { browserLabels } from "../engine/browser/BrowserScenario.ts"
import { decodeScenario } from "../engine/ScenarioLoader.ts"
import { parseThreshold, type Threshold } from "../engine/Thresholds.ts"
import { type FileSpec, Limits, tools } from "../protocol/commands.ts"

export class PlanError extends Schema.TaggedError<PlanError>()("PlanError", {
  source: Schema.String,
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    if (this.problems.length === 1 && this.problems[0]!.startsWith("no such file: ")) return this.problems[0]!
    return `invalid plan ${this.source}:\n${this.problems.map((p) => `  - ${p}`).join("\n")}`
  }
}

/** A scenario file handed to `grid launch`: the plan that wraps it, shown in the error. */
const scenarioNotPlan = (raw: Record<string, unknown>): string =>
  [
    "this is a scenario (grid run's file), not a plan: grid launch takes a plan that wraps the scenario, e.g.",
    "      name: my-test",
    "      tool: builtin",
    "      scenario:",
    `        target: ${typeof raw.target === "string" ? raw.target : "http://127.0.0.1:8080"}`,
    "        requests: [...]",
    "        load: {...}",
    "    (see docs/scenarios.md, \"A plan\")"
  ].join("\n")

const StringMap = Schema.Record(Schema.String, Schema.String)

/** A file shipped to the nodes: inline `content`, or `file` read from disk (relative to the plan). */
export const PlanFile = Schema.Struct({
  path: Schema.NonEmptyString,
  content: Schema.optional(Schema.String),
  file: Schema.optional(Schema.NonEmptyString),
  encoding: Schema.optional(Schema.Literals(["utf8", "base64"])),
  mode: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0o777 })))
})

export const PlanFileSchema = Schema.Struct({
  /** Used in the generated test id (`<name>-<time>`) and report titles. */
  name: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,40}$/, { message: "must be 1-40 of A-Z a-z 0-9 _ -" }))),
  tool: Schema.Literals(tools),
  runner: Schema.optional(Schema.Literals(["process", "docker"])),
  image: Schema.optional(Schema.String),
  /** `builtin` only: the engine's scenario (the same document `grid run` reads). */
  scenario: Schema.optional(Schema.Unknown),
  files: Schema.optional(Schema.Array(PlanFile)),
  entry: Schema.optional(Schema.String),
  params: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  env: Schema.optional(StringMap),
  limits: Schema.optional(Limits),
  labels: Schema.optional(StringMap),
  thresholds: Schema.optional(Schema.Array(Schema.String)),
  /** The launch's lease: seconds, or "30s", "2m" (`grid launch --lease` wins). */
  lease: Schema.optional(Schema.Union([Schema.Number, Schema.String]))
})
export type PlanFileSchema = typeof PlanFileSchema.Type

/** How the load is split across nodes. */
export type PlanLoad =
  | { readonly kind: "users"; readonly users: number }
  | { readonly kind: "rate"; readonly rate: number }
  | { readonly kind: "stages"; readonly load: Load }
  | { readonly kind: "none" }

/** A checked plan, ready to be split across nodes. */
export interface Plan {
  readonly source: string
  readonly name: string
  readonly tool: string
  readonly runner: "process" | "docker" | undefined
  readonly image: string | undefined
  readonly files: ReadonlyArray<FileSpec>
  readonly entry: string | undefined
  /** Params common to every node (the split keys `users` and `rate` are set per node). */
  readonly params: Readonly<Record<string, unknown>>
  readonly env: Readonly<Record<string, string>> | undefined
  readonly limits: Limits | undefined
  readonly labels: Readonly<Record<string, string>> | undefined
  readonly thresholds: ReadonlyArray<Threshold>
  readonly load: PlanLoad
  /** `builtin`: the scenario document shipped to the nodes (rewritten per node for stages). */
  readonly scenario: Record<string, unknown> | undefined
  /** Planned run time, ms, when known (progress display only). */
  readonly durationMs: number | undefined
  /** `builtin`: the scenario's request names, in order (the summary's row order). */
  readonly requestNames: ReadonlyArray<string>
  /** The plan's `lease`, seconds, when it gives one. */
  readonly leaseSeconds?: number | undefined
}

/** A lease as the plan writes it: seconds, or a number with ms, s, m or h. */
const leaseSecondsOf = (v: number | string): number | undefined => {
  if (typeof v === "number") return Number.isFinite(v) && v > 0 ? v : undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v)
  if (!m) return undefined
  const n = Number(m[1]) * (m[2] === "ms" ? 0.001 : m[2] === "m" ? 60 : m[2] === "h" ? 3600 : 1)
  return n > 0 ? n : undefined
}

export const SCENARIO_FILE = "scenario.json"

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`), "")
const standard = SchemaIssue.makeFormatterStandardSchemaV1()
const decodeFile = Schema.decodeUnknownResult(PlanFileSchema)

const checkParams = (params: Record<string, unknown>, problems: Array<string>) => {
  for (const [key, integer] of [["users", true], ["rate", false], ["durationSeconds", false], ["rampUpSeconds", false]] as const) {
    const v = params[key]
    if (v === undefined) continue
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
      problems.push(`params.${key}: must be a ${integer ? "non-negative integer" : "non-negative number"}, got ${JSON.stringify(v)}`)
    }
  }
  if (params.target !== undefined && (typeof params.target !== "string" || !URL.canParse(params.target))) {
    problems.push(`params.target: must be a base URL, got ${JSON.stringify(params.target)}`)
  }
  if (params.users !== undefined && params.rate !== undefined) problems.push("params: give users (closed model) or rate (open model), not both")
}

/**
 * Checks a parsed plan document. `readFile` reads a file relative to the plan (utf8 or
 * base64), for `files[].file` and a builtin scenario's data file.
 */
export const decodePlan = Effect.fnUntraced(function*(
  raw: unknown,
  source: string,
  readFile: (path: string, encoding: "utf8" | "base64") => Effect.Effect<string, string> = (p) => Effect.fail(`no file system to read ${p}`)
) {
  if (typeof raw === "object" && raw !== null && !("tool" in raw) && "requests" in raw && "load" in raw) {
    return yield* new PlanError({ source, problems: [scenarioNotPlan(raw as Record<string, unknown>)] })
  }
  const decoded = decodeFile(raw, { errors: "all", onExcessProperty: "error" })
  if (Result.isFailure(decoded)) {
    const problems = standard(decoded.failure.issue).issues.map((i) =>
      i.path !== undefined && i.path.length > 0 ? `${formatPath(i.path.map((p) => (typeof p === "object" ? p.key : p)))}: ${i.message}` : i.message
    )
    return yield* new PlanError({ source, problems })
  }
  const p = decoded.success
  const problems: Array<string> = []
  const params: Record<string, unknown> = { ...(p.params ?? {}) }
  checkParams(params, problems)
  const leaseSeconds = p.lease === undefined ? undefined : leaseSecondsOf(p.lease)
  if (p.lease !== undefined && leaseSeconds === undefined) problems.push(`lease: must be a positive duration such as 30s or 2m, got ${JSON.stringify(p.lease)}`)

  const files: Array<FileSpec> = []
  for (const [i, f] of (p.files ?? []).entries()) {
    const bad = checkRelativePath(f.path)
    if (bad) problems.push(`files[${i}].path: ${bad}`)
    if ((f.content === undefined) === (f.file === undefined)) {
      problems.push(`files[${i}]: give exactly one of content or file`)
      continue
    }
    const encoding = f.encoding ?? "utf8"
    let content = f.content
    if (content === undefined) {
      const read = yield* Effect.result(readFile(f.file!, encoding))
      if (Result.isFailure(read)) {
        problems.push(`files[${i}].file: ${read.failure}`)
        continue
      }
      content = read.success
    }
    files.push({ path: f.path, content, ...(f.encoding ? { encoding } : {}), ...(f.mode !== undefined ? { mode: f.mode } : {}) })
  }

  let load: PlanLoad = { kind: "none" }
  let scenario: Record<string, unknown> | undefined
  let durationMs: number | undefined
  const thresholds: Array<Threshold> = []
  let entry = p.entry
  let labelNames: Set<string> | undefined

  if (p.tool === "builtin") {
    if (p.scenario === undefined) problems.push("scenario: required for tool builtin (the engine's scenario, inline)")
    else if (typeof p.scenario !== "object" || p.scenario === null || Array.isArray(p.scenario)) problems.push("scenario: must be an object")
    else if (p.entry !== undefined) problems.push("entry: not used with tool builtin (the scenario is the entry)")
    else {
      const overrides = {
        target: typeof params.target === "string" ? params.target : undefined,
        users: typeof params.users === "number" ? params.users : undefined,
        rate: typeof params.rate === "number" ? params.rate : undefined,
        durationSeconds: typeof params.durationSeconds === "number" ? params.durationSeconds : undefined,
        rampUpSeconds: typeof params.rampUpSeconds === "number" ? params.rampUpSeconds : undefined
      }
      const checked = yield* Effect.result(decodeScenario(p.scenario, `${source} (scenario)`, overrides, (f) => readFile(f, "utf8")))
      if (Result.isFailure(checked)) {
        for (const prob of checked.failure.problems) problems.push(`scenario.${prob}`)
      } else {
        const s = checked.success
        scenario = p.scenario as Record<string, unknown>
        durationMs = s.durationMs
        // A browser scenario's labels: its steps and their page metrics (home, home:lcp, ...).
        labelNames = new Set(s.browser !== undefined ? browserLabels(s.browser) : [...s.setup, ...s.requests, ...s.teardown].map((r) => r.name))
        thresholds.push(...s.thresholds)
        // The effective load after params; the per-node share replaces users or rate.
        load = s.load.stages !== undefined
          ? { kind: "stages", load: s.load }
          : s.load.model === "closed"
          ? { kind: "users", users: s.load.users ?? 1 }
          : { kind: "rate", rate: s.load.rate ?? 0 }
        delete params.users
        delete params.rate
        if (s.load.stages !== undefined) {
          // The stages are split in the shipped scenario itself.
          scenario = { ...scenario, load: s.load }
          delete params.durationSeconds
          delete params.rampUpSeconds
        }
        // A data file named by the scenario travels with it, at the same relative path.
        if (s.file.data !== undefined) {
          const bad = checkRelativePath(s.file.data.file)
          if (bad) problems.push(`scenario.data.file: ${bad} (it is shipped to the nodes)`)
          else {
            const read = yield* Effect.result(readFile(s.file.data.file, "utf8"))
            if (Result.isSuccess(read)) files.push({ path: s.file.data.file, content: read.success })
          }
        }
        if (files.some((f) => f.path === SCENARIO_FILE)) problems.push(`files: ${SCENARIO_FILE} is reserved for the builtin scenario`)
        entry = SCENARIO_FILE
      }
    }
  } else {
    if (p.scenario !== undefined) problems.push(`scenario: only for tool builtin (tool ${p.tool} takes files and entry)`)
    if (typeof params.users === "number") load = { kind: "users", users: params.users }
    else if (typeof params.rate === "number") load = { kind: "rate", rate: params.rate }
    if (typeof params.durationSeconds === "number") durationMs = params.durationSeconds * 1000
    if (entry !== undefined && !files.some((f) => f.path === entry) && p.tool !== "command") {
      problems.push(`entry: ${entry} is not among files`)
    }
  }

  for (const [i, t] of (p.thresholds ?? []).entries()) {
    const parsed = parseThreshold(t)
    if (typeof parsed === "string") problems.push(`thresholds[${i}]: ${parsed}`)
    else if (labelNames !== undefined && parsed.label !== "*" && !labelNames.has(parsed.label)) problems.push(`thresholds[${i}]: no request is named "${parsed.label}"`)
    else thresholds.push(parsed)
  }

  if (problems.length > 0) return yield* new PlanError({ source, problems })
  const plan: Plan = {
    source,
    name: p.name ?? "launch",
    tool: p.tool,
    runner: p.runner,
    image: p.image,
    files,
    entry,
    params,
    env: p.env,
    limits: p.limits,
    labels: p.labels,
    thresholds,
    load,
    scenario,
    durationMs,
    requestNames: labelNames === undefined ? [] : [...labelNames],
    ...(leaseSeconds !== undefined ? { leaseSeconds } : {})
  }
  return plan
})

/** Reads and checks a plan file (YAML or JSON). */
export const loadPlan = Effect.fnUntraced(function*(file: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const text = yield* fs.readFileString(file).pipe(
    Effect.mapError((e) => new PlanError({ source: file, problems: [fileProblem(file, e)] }))
  )
  let raw: unknown
  try {
    raw = parseYaml(text, { prettyErrors: true })
  } catch (e) {
    return yield* new PlanError({ source: file, problems: [`syntax: ${(e as Error).message}`] })
  }
  const dir = path.dirname(path.resolve(file))
  const readFile = (p: string, encoding: "utf8" | "base64") =>
    fs.readFile(path.resolve(dir, p)).pipe(
      Effect.map((bytes) => Buffer.from(bytes).toString(encoding)),
      Effect.mapError((e) => fileProblem(path.resolve(dir, p), e))
    )
  return yield* decodePlan(raw, file, readFile)
})
