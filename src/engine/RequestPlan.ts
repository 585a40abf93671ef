// Compiles the scenario's requests once, before the run: each becomes an origin plus
// either one pre-serialised HTTP/1.1 request Buffer (no `${var}` anywhere) or a template
// serialised per data row. The hot path then only writes Buffers to sockets.
import type { Scenario } from "./Scenario.ts"

export interface Origin {
  /** "http://host:port", the key connections are pooled by. */
  readonly key: string
  readonly host: string
  readonly port: number
  readonly tls: boolean
}

export type Row = Readonly<Record<string, string>> | undefined

export interface CompiledRequest {
  readonly name: string
  readonly method: string
  readonly origin: Origin
  /** HEAD responses carry no body: the parser must be told. */
  readonly head: boolean
  readonly thinkTimeMs: number
  readonly isExpected: (status: number) => boolean
  /** The request bytes for the lean client. */
  readonly bytes: (row: Row) => Buffer
  /** The same request for undici's `Pool.request`. */
  readonly parts: (row: Row) => { path: string; headers: Record<string, string>; body: string | undefined }
}

const variable = /\$\{([^}]*)\}/g
const substitute = (text: string, row: Row): string =>
  row === undefined ? text : text.replace(variable, (_, name: string) => row[name] ?? "")

export const originOf = (url: URL): Origin => {
  const tls = url.protocol === "https:"
  const port = url.port !== "" ? Number(url.port) : tls ? 443 : 80
  return { key: `${url.protocol}//${url.hostname}:${port}`, host: url.hostname.replace(/^\[|\]$/g, ""), port, tls }
}

const compileOne = (scenario: Scenario, index: number): CompiledRequest => {
  const spec = scenario.requests[index]!
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
  const templated = spec.path.includes("${") || bodyTemplate?.includes("${") === true ||
    Object.values(headers).some((v) => v.includes("${"))

  const parts = (row: Row) => {
    const h: Record<string, string> = {}
    for (const k in headers) h[k] = substitute(headers[k]!, row)
    return { path: substitute(rawPath, row), headers: h, body: bodyTemplate === undefined ? undefined : substitute(bodyTemplate, row) }
  }
  const serialise = (row: Row): Buffer => {
    const p = parts(row)
    let head = `${method} ${p.path} HTTP/1.1\r\nhost: ${hostHeader}\r\n`
    for (const k in p.headers) head += `${k}: ${p.headers[k]}\r\n`
    if (p.body !== undefined) {
      const body = Buffer.from(p.body)
      head += `content-length: ${body.length}\r\n\r\n`
      return Buffer.concat([Buffer.from(head, "latin1"), body])
    }
    if (method === "POST" || method === "PUT" || method === "PATCH") head += "content-length: 0\r\n"
    return Buffer.from(`${head}\r\n`, "latin1")
  }
  const fixed = templated ? undefined : serialise(undefined)
  const expect = spec.expect === undefined ? undefined : typeof spec.expect === "number" ? [spec.expect] : spec.expect
  return {
    name: spec.name,
    method,
    origin,
    head: method === "HEAD",
    thinkTimeMs: spec.thinkTimeMs ?? 0,
    isExpected: expect === undefined ? (s) => s >= 200 && s < 400 : (s) => expect.includes(s),
    bytes: fixed !== undefined ? () => fixed : serialise,
    parts
  }
}

export interface RequestPlan {
  readonly requests: ReadonlyArray<CompiledRequest>
  readonly origins: ReadonlyArray<Origin>
  /** Data rows handed out in order, shared by all users (wraps around). */
  readonly nextRow: () => Row
}

export const compilePlan = (scenario: Scenario): RequestPlan => {
  const requests = scenario.requests.map((_, i) => compileOne(scenario, i))
  const origins = [...new Map(requests.map((r) => [r.origin.key, r.origin])).values()]
  let cursor = 0
  const rows = scenario.data
  const nextRow = rows.length === 0 ? () => undefined : () => rows[cursor++ % rows.length]
  return { requests, origins, nextRow }
}
