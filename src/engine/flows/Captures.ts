// Captures compiled from a request's `capture:` map: each reads one response (a JSON path,
// a header, a regex over the body, a cookie the response sets) and yields the variable's
// value or a failure message (`capture token: $.token not found`). What each needs (the
// body or only headers) is known at load time, so the connection keeps a body only for a
// request that reads it.
import { parse as parseSetCookie } from "tough-cookie"
import type { CaptureSpec } from "./FlowSchema.ts"
import { evaluateJsonPath, parseJsonPath } from "./JsonPath.ts"
import type { ResponseView } from "./Response.ts"

export interface Capture {
  readonly name: string
  readonly needsBody: boolean
  /** The captured value, or `{ error }` naming the capture. */
  readonly run: (response: ResponseView) => string | { readonly error: string }
}

const asText = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v))

/** Compiles one capture; a string is a load-time problem (without the path prefix). */
export const compileCapture = (name: string, spec: CaptureSpec): Capture | string => {
  const fail = (what: string) => ({ error: `capture ${name}: ${what}` })
  if ("json" in spec) {
    const steps = parseJsonPath(spec.json)
    if (typeof steps === "string") return steps
    return {
      name,
      needsBody: true,
      run: (r) => {
        const parsed = r.json()
        if (!parsed.ok) return fail(`${spec.json} not found (${parsed.error})`)
        const found = evaluateJsonPath(parsed.value, steps)
        return found.found && found.value !== null ? asText(found.value) : fail(`${spec.json} not found`)
      }
    }
  }
  if ("header" in spec) {
    return {
      name,
      needsBody: false,
      run: (r) => r.header(spec.header) ?? fail(`header ${spec.header} not found`)
    }
  }
  if ("regex" in spec) {
    let re: RegExp
    try {
      re = new RegExp(spec.regex)
    } catch (e) {
      return `regex ${JSON.stringify(spec.regex)}: ${(e as Error).message}`
    }
    return {
      name,
      needsBody: true,
      run: (r) => {
        const m = re.exec(r.body)
        return m === null ? fail(`/${spec.regex}/ not found`) : m[1] ?? m[0]
      }
    }
  }
  const cookie = spec.cookie
  return {
    name,
    needsBody: false,
    run: (r) => {
      for (const line of r.headerAll("set-cookie")) {
        const c = parseSetCookie(line)
        if (c !== undefined && c.key === cookie) return c.value
      }
      return fail(`cookie ${cookie} not set`)
    }
  }
}
