// A request's `check:` compiled into one function of the response: the status (one or a
// list; default any 2xx or 3xx, or the request's `expect`), JSON values at paths, text the
// body must contain, header values, and a latency ceiling. The first failed check is the
// sample's error message (`check json $.ok: expected true, got false`), so error rates,
// thresholds and the `checks` threshold metric all see it.
import type { CheckSpec } from "./FlowSchema.ts"
import { evaluateJsonPath, parseJsonPath, type Step } from "./JsonPath.ts"
import type { ResponseView } from "./Response.ts"

export interface CompiledChecks {
  readonly isExpected: (status: number) => boolean
  /** Whether anything beyond the status is checked (the body, headers or latency). */
  readonly inspects: boolean
  readonly needsBody: boolean
  /** The first failed check's message, or undefined. Only called when the status is expected. */
  readonly run: (response: ResponseView, latencyMs: number) => string | undefined
}

const clip = (s: string): string => (s.length > 80 ? `${s.slice(0, 77)}...` : s)
const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b)

/** Compiles `check:` (and the older `expect`); problems are returned with their key. */
export const compileChecks = (
  check: CheckSpec | undefined,
  expect: number | ReadonlyArray<number> | undefined
): CompiledChecks | Array<string> => {
  const problems: Array<string> = []
  const status = check?.status ?? expect
  const list = status === undefined ? undefined : typeof status === "number" ? [status] : status
  const isExpected = list === undefined ? (s: number) => s >= 200 && s < 400 : (s: number) => list.includes(s)

  const json: Array<[string, ReadonlyArray<Step>, unknown]> = []
  for (const [path, expected] of Object.entries(check?.json ?? {})) {
    const steps = parseJsonPath(path)
    if (typeof steps === "string") problems.push(`json: ${steps}`)
    else json.push([path, steps, expected])
  }
  const headers = Object.entries(check?.header ?? {})
  const contains = check?.bodyContains
  const maxLatency = check?.maxLatency
  if (problems.length > 0) return problems

  const needsBody = json.length > 0 || contains !== undefined
  const run = (r: ResponseView, latencyMs: number): string | undefined => {
    if (maxLatency !== undefined && latencyMs > maxLatency) return `check maxLatency: ${latencyMs.toFixed(1)} ms > ${maxLatency} ms`
    for (const [name, expected] of headers) {
      const actual = r.header(name)
      if (actual !== expected) return `check header ${name}: expected ${JSON.stringify(expected)}, got ${actual === undefined ? "none" : JSON.stringify(clip(actual))}`
    }
    if (contains !== undefined && !r.body.includes(contains)) return `check bodyContains: ${JSON.stringify(clip(contains))} not in body`
    if (json.length > 0) {
      const parsed = r.json()
      if (!parsed.ok) return `check json: ${parsed.error}`
      for (const [path, steps, expected] of json) {
        const found = evaluateJsonPath(parsed.value, steps)
        if (!found.found) return `check json ${path}: not found`
        if (!same(found.value, expected)) return `check json ${path}: expected ${clip(JSON.stringify(expected))}, got ${clip(JSON.stringify(found.value))}`
      }
    }
    return undefined
  }
  return { isExpected, inspects: needsBody || headers.length > 0 || maxLatency !== undefined, needsBody, run }
}
