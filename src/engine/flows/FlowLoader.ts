// The load-time rules of flows (ScenarioLoader.ts calls it with the decoded file): `requests`
// or `flows` (one of them), every `${name}` defined (a capture of an earlier request in the
// same flow or of setup, a data column, a built-in), captures and checks that compile, and
// the labels samples will carry. Every problem is pushed with its path as the user wrote it.
import type { FlowSpec, RequestSpec, ScenarioFile } from "../Scenario.ts"
import { compileCapture } from "./Captures.ts"
import { compileChecks } from "./Checks.ts"
import { builtin, variablesIn } from "./Variables.ts"

export interface LoadedFlows {
  readonly flows: ReadonlyArray<{ readonly name: string; readonly weight: number; readonly requests: ReadonlyArray<RequestSpec> }>
  readonly setup: ReadonlyArray<RequestSpec>
  readonly teardown: ReadonlyArray<RequestSpec>
  /** Every label a sample may carry, setup and teardown included. */
  readonly labels: ReadonlyArray<string>
}

export interface DataColumns {
  /** The data file as written, undefined without one. */
  readonly file: string | undefined
  /** Its columns; empty when it could not be read (that problem is reported already). */
  readonly columns: ReadonlySet<string>
}

const tokenPattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const namePattern = /^[A-Za-z_][\w.-]*$/

export const setupLabel = (name: string): string => `[setup] ${name}`
export const teardownLabel = (name: string): string => `[teardown] ${name}`

/** Checks one list of requests in order; `known` grows with each request's captures. */
const checkRequests = (
  at: string,
  requests: ReadonlyArray<RequestSpec>,
  known: Set<string>,
  data: DataColumns,
  problems: Array<string>
): void => {
  const use = (where: string, text: string) => {
    for (const name of variablesIn(text)) {
      if (known.has(name) || builtin(name) !== undefined) continue
      if (data.file === undefined) {
        problems.push(`${where}: uses \${${name}} but the scenario has no data file (nor a capture of an earlier request or of setup, nor a built-in of that name)`)
      } else if (data.columns.size > 0 && !data.columns.has(name)) {
        problems.push(`${where}: \${${name}} is not a column of ${data.file} (nor a capture of an earlier request or of setup, nor a built-in)`)
      }
    }
  }
  requests.forEach((r, i) => {
    const here = `${at}[${i}]`
    use(`${here}.path`, r.path)
    for (const [name, value] of Object.entries(r.headers ?? {})) {
      if (!tokenPattern.test(name)) problems.push(`${here}.headers: "${name}" is not a valid header name`)
      use(`${here}.headers.${name}`, value)
    }
    if (typeof r.body === "string") use(`${here}.body`, r.body)
    else if (r.body !== undefined) use(`${here}.body`, JSON.stringify(r.body))
    if (r.expect !== undefined && r.check?.status !== undefined) problems.push(`${here}.expect: not allowed together with check.status`)
    const checks = compileChecks(r.check, r.expect)
    if (Array.isArray(checks)) for (const p of checks) problems.push(`${here}.check.${p}`)
    for (const name of Object.keys(r.check?.header ?? {})) {
      if (!tokenPattern.test(name)) problems.push(`${here}.check.header: "${name}" is not a valid header name`)
    }
    for (const [name, spec] of Object.entries(r.capture ?? {})) {
      if (!namePattern.test(name)) problems.push(`${here}.capture: "${name}" is not a variable name (letters, digits, _ . -)`)
      else if (builtin(name) !== undefined) problems.push(`${here}.capture.${name}: is a built-in variable`)
      const c = compileCapture(name, spec)
      if (typeof c === "string") problems.push(`${here}.capture.${name}: ${c}`)
    }
    // Captured after this request's own substitution: visible from the next request on.
    for (const name of Object.keys(r.capture ?? {})) known.add(name)
  })
}

export const checkFlows = (file: ScenarioFile, data: DataColumns, problems: Array<string>): LoadedFlows => {
  const given: ReadonlyArray<FlowSpec> = file.flows !== undefined
    ? file.flows
    : file.requests !== undefined ? [{ name: "default", requests: file.requests }] : []
  if (file.flows !== undefined && file.requests !== undefined) problems.push("flows: not allowed together with requests (requests is the one-flow shorthand)")
  if (file.flows !== undefined && file.flows.length === 0) problems.push("flows: at least one flow is required")
  if (file.flows !== undefined && file.browser !== undefined) problems.push("flows: not allowed together with browser")
  if (file.browser !== undefined && (file.setup !== undefined || file.teardown !== undefined)) {
    problems.push(`${file.setup !== undefined ? "setup" : "teardown"}: HTTP requests, not run by a browser scenario`)
  }
  const setup = file.setup ?? []
  const teardown = file.teardown ?? []

  const setupKnown = new Set<string>()
  checkRequests("setup", setup, setupKnown, data, problems)
  checkRequests("teardown", teardown, new Set(setupKnown), data, problems)

  const several = given.length > 1
  const seen = new Set<string>()
  const flows = given.map((f, i) => {
    if (seen.has(f.name)) problems.push(`flows[${i}].name: "${f.name}" is used by another flow`)
    seen.add(f.name)
    const at = file.flows !== undefined ? `flows[${i}].requests` : "requests"
    if (f.requests.length === 0) problems.push(`${at}: at least one request is required`)
    checkRequests(at, f.requests, new Set(setupKnown), data, problems)
    return {
      name: f.name,
      weight: f.weight ?? 1,
      requests: f.requests.map((r) => (several ? { ...r, name: `${f.name}/${r.name}` } : r))
    }
  })
  const labels = [
    ...setup.map((r) => setupLabel(r.name)),
    ...flows.flatMap((f) => f.requests.map((r) => r.name)),
    ...teardown.map((r) => teardownLabel(r.name))
  ]
  return {
    flows,
    setup: setup.map((r) => ({ ...r, name: setupLabel(r.name) })),
    teardown: teardown.map((r) => ({ ...r, name: teardownLabel(r.name) })),
    labels: [...new Set(labels)]
  }
}
