// Compiles the scenario's requests once, before the run: each becomes an origin plus either
// one pre-serialised HTTP/1.1 request Buffer (no `${var}` anywhere) or templates compiled
// into functions of the user's environment (flows/Variables.ts). A user's cookies, when its
// jar holds any, are one more header line. Captures and checks are compiled here too, with
// what each needs from the response, so the hot path keeps a body only when one is read.
import { type Capture, compileCapture } from "./flows/Captures.ts"
import { type CompiledChecks, compileChecks } from "./flows/Checks.ts"
import type { OnCaptureFail } from "./flows/FlowSchema.ts"
import { flowPicker } from "./flows/FlowPicker.ts"
import type { Collect } from "./flows/Response.ts"
import { compileTemplate, type Env, joinParts, type Part, type Template, templateParts } from "./flows/Variables.ts"
import { type Origin, originOf } from "./Origin.ts"
import type { RequestSpec, Scenario } from "./Scenario.ts"

export { type Origin, originOf }

export type Row = Readonly<Record<string, string>> | undefined
export type { Env }


export interface CompiledRequest {
  /** The label samples carry. */
  readonly name: string
  readonly method: string
  readonly origin: Origin
  /** HEAD responses carry no body: the parser must be told. */
  readonly head: boolean
  readonly thinkTimeMs: number
  readonly isExpected: (status: number) => boolean
  readonly checks: CompiledChecks
  readonly captures: ReadonlyArray<Capture>
  readonly onCaptureFail: OnCaptureFail
  /** Captures and checks beyond the status need this much of the response (cookies aside). */
  readonly collect: Collect
  /** The absolute URL, for the cookie jar. */
  readonly url: (env: Env) => string
  /** The request bytes for the lean client; `cookie` is the jar's header value ("" for none). */
  readonly bytes: (env: Env, cookie: string) => Buffer
  /** The same request for undici's `Pool.request`. */
  readonly parts: (env: Env, cookie: string) => { path: string; headers: Record<string, string>; body: string | undefined }
}

export interface CompiledFlow {
  readonly name: string
  readonly requests: ReadonlyArray<CompiledRequest>
}

const variable = /\$\{([^}]*)\}/g
const constant = (text: string): Template => () => text

export const compileRequest = (scenario: Scenario, spec: RequestSpec): CompiledRequest => {
  const method = spec.method ?? "GET"
  const absolute = /^https?:\/\//i.test(spec.path)
  // Resolve against the target's URL but keep `${...}` intact: URL() would escape the braces.
  const base = absolute ? new URL(spec.path.replace(variable, "x")) : scenario.target
  const origin = originOf(base)
  const prefix = scenario.target.pathname.replace(/\/$/, "")
  const rawPath = absolute ? spec.path.replace(/^https?:\/\/[^/]+/i, "") || "/" : `${prefix}${spec.path}`
  const hostHeader = base.host
  const headers: Record<string, string> = { ...spec.headers }
  const lower = new Set(Object.keys(headers).map((h) => h.toLowerCase()))
  let bodyTemplate: string | undefined
  if (spec.body !== undefined) {
    bodyTemplate = typeof spec.body === "string" ? spec.body : JSON.stringify(spec.body)
    if (typeof spec.body !== "string" && !lower.has("content-type")) headers["content-type"] = "application/json"
  }
  if (!lower.has("user-agent")) headers["user-agent"] = "grid"
  const userCookie = Object.keys(headers).find((h) => h.toLowerCase() === "cookie")

  const path = compileTemplate(rawPath, "path") ?? constant(rawPath)
  const headerTemplates = Object.entries(headers).map(([k, v]) => [k, compileTemplate(v, "header") ?? constant(v)] as const)
  const body = bodyTemplate === undefined
    ? undefined
    : compileTemplate(bodyTemplate, typeof spec.body === "string" ? "body" : "json") ?? constant(bodyTemplate)
  const templated = rawPath.includes("${") || bodyTemplate?.includes("${") === true ||
    Object.values(headers).some((v) => v.includes("${"))

  const parts = (env: Env, cookie: string) => {
    const h: Record<string, string> = {}
    for (const [k, t] of headerTemplates) h[k] = t(env)
    if (cookie !== "") {
      if (userCookie !== undefined) h[userCookie] = `${h[userCookie]}; ${cookie}`
      else h.cookie = cookie
    }
    return { path: path(env), headers: h, body: body?.(env) }
  }
  // The head as one template (literal runs merged), the cookie header and the length added per send.
  const headParts: Array<Part> = [`${method} `, ...templateParts(rawPath, "path"), ` HTTP/1.1\r\nhost: ${hostHeader}\r\n`]
  for (const [k, v] of Object.entries(headers)) {
    if (k === userCookie) continue
    headParts.push(`${k}: `, ...templateParts(v, "header"), "\r\n")
  }
  const headOf = joinParts(headParts)
  const userCookieOf = userCookie === undefined ? undefined : compileTemplate(headers[userCookie]!, "header") ?? constant(headers[userCookie]!)
  const emptyBody = method === "POST" || method === "PUT" || method === "PATCH" ? "content-length: 0\r\n" : ""
  const serialise = (env: Env, cookie: string): Buffer => {
    let head = headOf(env)
    const mine = userCookieOf?.(env)
    if (mine !== undefined || cookie !== "") {
      head += `${userCookie ?? "cookie"}: ${mine === undefined ? cookie : cookie === "" ? mine : `${mine}; ${cookie}`}\r\n`
    }
    if (body !== undefined) {
      const b = Buffer.from(body(env))
      return Buffer.concat([Buffer.from(`${head}content-length: ${b.length}\r\n\r\n`, "latin1"), b])
    }
    return Buffer.from(`${head}${emptyBody}\r\n`, "latin1")
  }
  const fixed = templated ? undefined : serialise({ row: undefined, vars: {}, vu: 0, iterations: 0 }, "")

  // A loaded scenario's checks and captures compile (FlowLoader.ts reported any that do not).
  const compiled = compileChecks(spec.check, spec.expect)
  const checks = Array.isArray(compiled) ? compileChecks(undefined, spec.expect) as CompiledChecks : compiled
  const captures = Object.entries(spec.capture ?? {})
    .map(([name, c]) => compileCapture(name, c))
    .filter((c): c is Capture => typeof c !== "string")
  const needsBody = checks.needsBody || captures.some((c) => c.needsBody)
  const collect: Collect = needsBody ? 2 : checks.inspects || captures.length > 0 ? 1 : 0
  const originUrl = `${origin.tls ? "https" : "http"}://${hostHeader}`
  const fixedUrl = rawPath.includes("${") ? undefined : originUrl + rawPath
  return {
    name: spec.name,
    method,
    origin,
    head: method === "HEAD",
    thinkTimeMs: spec.thinkTimeMs ?? 0,
    isExpected: checks.isExpected,
    checks,
    captures,
    onCaptureFail: spec.onCaptureFail ?? "end",
    collect,
    url: fixedUrl !== undefined ? () => fixedUrl : (env) => originUrl + path(env),
    bytes: fixed !== undefined ? (env, cookie) => (cookie === "" ? fixed : serialise(env, cookie)) : serialise,
    parts
  }
}

export interface RequestPlan {
  /** Every request of every flow (the first flow's first request first). */
  readonly requests: ReadonlyArray<CompiledRequest>
  readonly flows: ReadonlyArray<CompiledFlow>
  /** Draws the flow of an iteration (or arrival) by weight. */
  readonly pickFlow: () => CompiledFlow
  readonly setup: ReadonlyArray<CompiledRequest>
  readonly teardown: ReadonlyArray<CompiledRequest>
  /** Whether users keep cookie jars. */
  readonly cookies: boolean
  /** Every origin any request (setup and teardown included) goes to. */
  readonly origins: ReadonlyArray<Origin>
  /** Data rows handed out in order, shared by all users (wraps around). */
  readonly nextRow: () => Row
  /** The data file's first row: what setup and teardown read. */
  readonly firstRow: Row
}

export const compilePlan = (scenario: Scenario): RequestPlan => {
  const flows = scenario.flows.map((f) => ({ name: f.name, weight: f.weight, requests: f.requests.map((r) => compileRequest(scenario, r)) }))
  const setup = scenario.setup.map((r) => compileRequest(scenario, r))
  const teardown = scenario.teardown.map((r) => compileRequest(scenario, r))
  const requests = flows.flatMap((f) => f.requests)
  const origins = [...new Map([...setup, ...requests, ...teardown].map((r) => [r.origin.key, r.origin])).values()]
  let cursor = 0
  const rows = scenario.data
  const nextRow = rows.length === 0 ? () => undefined : () => rows[cursor++ % rows.length]
  return {
    requests,
    flows,
    pickFlow: flowPicker(flows.map((f) => ({ weight: f.weight, value: f as CompiledFlow }))),
    setup,
    teardown,
    cookies: scenario.cookies,
    origins,
    nextRow,
    firstRow: rows[0]
  }
}
