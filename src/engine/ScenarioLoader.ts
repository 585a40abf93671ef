// Loads a scenario file (YAML or JSON: YAML 1.2 reads both) into a checked `Scenario`:
// schema decode with every issue and its path, command-line / protocol overrides, then
// the cross-field rules, the data file and the thresholds. Every problem is collected and
// reported together, before any request is sent.
import { Effect, FileSystem, Path, Result, Schema, SchemaIssue } from "effect"
import { parse as parseYaml } from "yaml"
import { browserLabels, checkBrowser } from "./browser/BrowserScenario.ts"
import { csvRecords } from "./Csv.ts"
import { fileProblem } from "./FileProblem.ts"
import { checkFlows } from "./flows/FlowLoader.ts"
import { type Load, type Scenario, ScenarioFile, type ScenarioOverrides } from "./Scenario.ts"
import { parseThreshold, type Threshold } from "./Thresholds.ts"

export class ScenarioError extends Schema.TaggedError<ScenarioError>()("ScenarioError", {
  source: Schema.String,
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    if (this.problems.length === 1 && this.problems[0]!.startsWith("no such file: ")) return this.problems[0]!
    return `invalid scenario ${this.source}:\n${this.problems.map((p) => `  - ${p}`).join("\n")}`
  }
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`), "")

const standard = SchemaIssue.makeFormatterStandardSchemaV1()
const decodeFile = Schema.decodeUnknownResult(ScenarioFile)

const variablePattern = /\$\{([^}]*)\}/g

const applyOverrides = (file: ScenarioFile, o: ScenarioOverrides): ScenarioFile => {
  let load: Load = file.load
  if (o.rate !== undefined) {
    load = load.model === "open"
      ? { ...load, rate: o.rate, stages: undefined }
      : { model: "open", rate: o.rate, durationSeconds: load.durationSeconds }
  } else if (o.users !== undefined) {
    load = load.model === "closed"
      ? { ...load, users: o.users, stages: undefined }
      : { model: "closed", users: o.users, durationSeconds: load.durationSeconds }
  }
  if (o.durationSeconds !== undefined) load = { ...load, durationSeconds: o.durationSeconds, stages: undefined }
  if (o.rampUpSeconds !== undefined && load.model === "closed") load = { ...load, rampUpSeconds: o.rampUpSeconds }
  return { ...file, load, target: o.target ?? file.target }
}

/** Cross-field rules of the load model; returns the planned duration in ms. */
const checkLoad = (load: Load, problems: Array<string>): number => {
  const stages = load.stages
  if (stages !== undefined) {
    if (stages.length === 0) problems.push("load.stages: must not be empty")
    const conflicting = load.model === "closed" ? ["users", "durationSeconds", "rampUpSeconds"] as const : ["rate", "durationSeconds"] as const
    for (const k of conflicting) {
      if ((load as Record<string, unknown>)[k] !== undefined) problems.push(`load.${k}: not allowed together with load.stages`)
    }
    return stages.reduce((s, st) => s + st.durationSeconds * 1000, 0)
  }
  if (load.model === "closed" && load.users === undefined) problems.push("load.users: required (or give load.stages)")
  if (load.model === "open" && load.rate === undefined) problems.push("load.rate: required (or give load.stages)")
  if (load.durationSeconds === undefined) {
    problems.push("load.durationSeconds: required (or give load.stages)")
    return 0
  }
  if (load.model === "closed" && (load.rampUpSeconds ?? 0) > load.durationSeconds) {
    problems.push("load.rampUpSeconds: longer than load.durationSeconds (the duration includes the ramp-up)")
  }
  return load.durationSeconds * 1000
}

const checkTarget = (target: string, problems: Array<string>): URL | undefined => {
  try {
    const url = new URL(target)
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      problems.push(`target: "${target}" is not an http(s) URL`)
      return undefined
    }
    return url
  } catch {
    problems.push(`target: "${target}" is not a URL`)
    return undefined
  }
}

/** Checks a decoded file and reads its data file; `readText` resolves relative to the scenario. */
const check = Effect.fnUntraced(function*(
  file: ScenarioFile,
  source: string,
  readText: (path: string) => Effect.Effect<string, string>
) {
  const problems: Array<string> = []
  const target = checkTarget(file.target, problems)
  const requests = file.requests ?? []
  if (file.browser !== undefined && file.requests !== undefined) problems.push("requests: not allowed together with browser (a scenario is HTTP requests or browser steps)")
  else if (file.browser === undefined && file.flows === undefined && requests.length === 0) problems.push("requests: at least one request is required (or give browser.steps)")
  const durationMs = checkLoad(file.load, problems)

  let data: Array<Record<string, string>> = []
  let columns: ReadonlySet<string> = new Set()
  if (file.data !== undefined) {
    const text = yield* Effect.result(readText(file.data.file))
    if (Result.isFailure(text)) problems.push(`data.file: ${text.failure}`)
    else {
      const csv = csvRecords(text.success)
      for (const p of csv.problems) problems.push(`data.file: ${file.data.file} ${p}`)
      data = csv.records
      columns = new Set(csv.columns)
    }
  }

  const checkVariables = (where: string, text: string) => {
    for (const m of text.matchAll(variablePattern)) {
      if (file.data === undefined) problems.push(`${where}: uses \${${m[1]}} but the scenario has no data file`)
      else if (columns.size > 0 && !columns.has(m[1]!)) problems.push(`${where}: \${${m[1]}} is not a column of ${file.data.file}`)
    }
  }
  if (file.browser !== undefined) checkBrowser(file.browser, problems, checkVariables)
  // Requests, flows, setup and teardown: variables, captures, checks, labels (flows/FlowLoader.ts).
  const flows = checkFlows(file, { file: file.data?.file, columns }, problems)

  const names = new Set(file.browser !== undefined ? browserLabels(file.browser) : flows.labels)
  const thresholds: Array<Threshold> = []
  file.thresholds?.forEach((s, i) => {
    const t = parseThreshold(s)
    if (typeof t === "string") problems.push(`thresholds[${i}]: ${t}`)
    else if (t.label !== "*" && !names.has(t.label)) problems.push(`thresholds[${i}]: no request is named "${t.label}"`)
    else thresholds.push(t)
  })

  if (problems.length > 0 || target === undefined) return yield* new ScenarioError({ source, problems })
  const scenario: Scenario = {
    file,
    source,
    target,
    requests: flows.flows.flatMap((f) => f.requests),
    flows: flows.flows,
    setup: flows.setup,
    teardown: flows.teardown,
    cookies: file.cookies ?? true,
    browser: file.browser,
    load: file.load,
    data,
    thresholds,
    timeoutMs: (file.timeoutSeconds ?? 30) * 1000,
    client: file.client ?? "lean",
    durationMs
  }
  return scenario
})

/** Decodes an already parsed scenario document (used by the loader and by tests). */
export const decodeScenario = (
  raw: unknown,
  source: string,
  overrides: ScenarioOverrides = {},
  readText: (path: string) => Effect.Effect<string, string> = (p) => Effect.fail(`no file system to read ${p}`)
): Effect.Effect<Scenario, ScenarioError> => {
  const decoded = decodeFile(raw, { errors: "all", onExcessProperty: "error" })
  if (Result.isFailure(decoded)) {
    const problems = standard(decoded.failure.issue).issues.map((i) =>
      i.path !== undefined && i.path.length > 0 ? `${formatPath(i.path.map((p) => (typeof p === "object" ? p.key : p)))}: ${i.message}` : i.message
    )
    return Effect.fail(new ScenarioError({ source, problems }))
  }
  return check(applyOverrides(decoded.success, overrides), source, readText)
}

/** Reads and checks a scenario file. */
export const loadScenario = Effect.fnUntraced(function*(file: string, overrides: ScenarioOverrides = {}) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const text = yield* fs.readFileString(file).pipe(
    Effect.mapError((e) => new ScenarioError({ source: file, problems: [fileProblem(file, e)] }))
  )
  let raw: unknown
  try {
    raw = parseYaml(text, { prettyErrors: true })
  } catch (e) {
    return yield* new ScenarioError({ source: file, problems: [`syntax: ${(e as Error).message}`] })
  }
  const dir = path.dirname(path.resolve(file))
  const readText = (p: string) =>
    fs.readFileString(path.resolve(dir, p)).pipe(Effect.mapError((e) => fileProblem(path.resolve(dir, p), e)))
  return yield* decodeScenario(raw, file, overrides, readText)
})
