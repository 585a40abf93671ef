// Finds the dynamic values of a recording: a token-looking value a later request sends (in a
// header, the query, the body) that first appeared in an earlier response (its JSON, a
// header, a Set-Cookie, its text). Each becomes a capture on that earlier request and a
// `${name}` where it is sent, so the converted scenario replays with fresh values instead
// of the recorded ones. Cookies themselves are left to the user's jar.
import type { CaptureSpec } from "../flows/FlowSchema.ts"
import { builtin } from "../flows/Variables.ts"

export interface RecordedRequest {
  path: string
  headers: Record<string, string>
  body: string | undefined
}

export interface RecordedResponse {
  readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly text: string
}

export interface Found {
  /** The request whose response holds the value. */
  readonly at: number
  readonly name: string
  readonly spec: CaptureSpec
}

const tokenLike = (v: string): boolean =>
  v.length >= 8 && v.length <= 4096 && /^[A-Za-z0-9._~+/=-]+$/.test(v) && /\d/.test(v) && /[A-Za-z]/.test(v)

/** Values a request sends that may be tokens. */
const candidates = (r: RecordedRequest): Array<string> => {
  const out: Array<string> = []
  for (const [name, value] of Object.entries(r.headers)) {
    const scheme = /^(?:Bearer|Token|Basic)\s+(\S+)$/i.exec(value)
    if (scheme !== null) out.push(scheme[1]!)
    else if (name.toLowerCase() !== "content-type" && name.toLowerCase() !== "accept") out.push(value)
  }
  const q = r.path.indexOf("?")
  // Path segments too: an id a POST answered, then read back as /orders/<id>.
  for (const segment of (q === -1 ? r.path : r.path.slice(0, q)).split("/")) {
    try {
      out.push(decodeURIComponent(segment))
    } catch {
      // a malformed escape is no token
    }
  }
  if (q !== -1) for (const v of new URLSearchParams(r.path.slice(q + 1)).values()) out.push(v)
  if (r.body !== undefined) {
    try {
      const leaves = (v: unknown, depth: number): void => {
        if (depth > 20) return
        if (typeof v === "string") out.push(v)
        else if (v !== null && typeof v === "object") for (const x of Object.values(v)) leaves(x, depth + 1)
      }
      leaves(JSON.parse(r.body), 0)
    } catch {
      for (const v of new URLSearchParams(r.body).values()) out.push(v)
    }
  }
  return out.filter(tokenLike)
}

/** The JSONPath of the first string leaf equal to `value`, and its key. */
const jsonPathOf = (root: unknown, value: string): { path: string; key: string } | undefined => {
  let budget = 100_000
  const walk = (v: unknown, path: string, key: string, depth: number): { path: string; key: string } | undefined => {
    if (--budget < 0 || depth > 30) return undefined
    if (v === value) return { path, key }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const r = walk(v[i], `${path}[${i}]`, key, depth + 1)
        if (r !== undefined) return r
      }
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        const r = walk(x, /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, k, depth + 1)
        if (r !== undefined) return r
      }
    }
    return undefined
  }
  return walk(root, "$", "token", 0)
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")

/** Where in `response` the value is, as a capture (and a name for the variable). */
const locate = (response: RecordedResponse, value: string): { spec: CaptureSpec; hint: string } | undefined => {
  try {
    const found = jsonPathOf(JSON.parse(response.text), value)
    if (found !== undefined) return { spec: { json: found.path }, hint: found.key }
  } catch {
    // not JSON: the other places
  }
  for (const h of response.headers) {
    if (h.name.toLowerCase() === "set-cookie") {
      const m = /^\s*([^=;\s]+)=([^;]*)/.exec(h.value)
      if (m !== null && m[2] === value) return { spec: { cookie: m[1]! }, hint: m[1]! }
    } else if (h.value === value) return { spec: { header: h.name }, hint: h.name }
  }
  const i = response.text.indexOf(value)
  if (i === -1) return undefined
  const before = response.text.slice(Math.max(0, i - 20), i)
  if (before.length === 0) return undefined
  return { spec: { regex: `${escapeRegex(before)}([A-Za-z0-9._~+/=-]+)` }, hint: "token" }
}

const variableName = (hint: string, taken: Set<string>): string => {
  let base = hint.replace(/[^\w.-]/g, "_").replace(/^[^A-Za-z_]+/, "")
  if (base === "" || builtin(base) !== undefined) base = "token"
  let name = base
  for (let n = 2; taken.has(name); n++) name = `${base}${n}`
  taken.add(name)
  return name
}

/** Replaces recorded values by `${name}` in the requests (in place) and returns the captures. */
export const findTokens = (requests: Array<RecordedRequest>, responses: ReadonlyArray<RecordedResponse>): Array<Found> => {
  const found: Array<Found> = []
  const names = new Map<string, string>()
  const taken = new Set<string>()
  requests.forEach((r, i) => {
    for (const value of candidates(r)) {
      let name = names.get(value)
      if (name === undefined) {
        for (let j = 0; j < i && name === undefined; j++) {
          const where = locate(responses[j]!, value)
          if (where === undefined) continue
          name = variableName(where.hint, taken)
          names.set(value, name)
          found.push({ at: j, name, spec: where.spec })
        }
      }
      if (name === undefined) continue
      const ref = `\${${name}}`
      for (const h of Object.keys(r.headers)) r.headers[h] = r.headers[h]!.replaceAll(value, ref)
      r.path = r.path.replaceAll(value, ref).replaceAll(encodeURIComponent(value), ref)
      if (r.body !== undefined) r.body = r.body.replaceAll(value, ref)
    }
  })
  return found
}
