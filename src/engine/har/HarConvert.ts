// `grid convert`'s core: a HAR recording into a scenario document. Requests stay in recorded
// order; static assets (scripts, styles, images, fonts, media) are dropped unless kept; the
// pause before each next request becomes the previous one's think time; browser-managed
// headers (cookies, compression, sec-*, caching) are left out, cookies being the user's
// jar's job; tokens a later request sends that an earlier response gave become captures
// (HarTokens.ts). Pure: the CLI (src/cli/convert.ts) reads and writes the files.
import { Result, Schema, SchemaIssue } from "effect"
import type { RequestSpec } from "../Scenario.ts"
import { HarFile, MAX_ENTRIES, type HarEntry } from "./HarSchema.ts"
import { findTokens, type RecordedRequest, type RecordedResponse } from "./HarTokens.ts"

export interface ConvertOptions {
  readonly keepAssets: boolean
  /** Gaps shorter than this are the browser's own work, not a user's pause. */
  readonly minThinkMs?: number | undefined
}

export interface Converted {
  readonly scenario: Record<string, unknown>
  readonly entries: number
  readonly kept: number
  readonly assets: number
  /** Entries left out for another reason (not http(s), a method the engine does not send...). */
  readonly skipped: number
  readonly captures: ReadonlyArray<{ readonly name: string; readonly from: string; readonly spec: unknown }>
  readonly notes: ReadonlyArray<string>
}

const assetTypes = new Set(["stylesheet", "script", "image", "font", "media", "manifest", "texttrack", "imageset"])
const assetExt = /\.(?:css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|woff2?|ttf|otf|eot|mp4|webm|mp3|ogg|wav)$/i
const assetMime = /^(?:text\/css|(?:text|application)\/(?:x-)?javascript|image\/|font\/|audio\/|video\/|application\/font)/i
const methods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
const dropHeader = /^(?::|host$|connection$|content-length$|cookie$|accept-encoding$|accept-language$|user-agent$|sec-|upgrade-insecure-requests$|pragma$|cache-control$|referer$|origin$|priority$|dnt$|if-none-match$|if-modified-since$|te$|keep-alive$|proxy-)/i

const isAsset = (e: HarEntry, url: URL): boolean =>
  (e._resourceType !== undefined && assetTypes.has(e._resourceType)) ||
  assetExt.test(url.pathname) ||
  assetMime.test(e.response.content?.mimeType ?? "")

const bodyText = (e: HarEntry): string => {
  const c = e.response.content
  if (c?.text === undefined) return ""
  return c.encoding === "base64" ? Buffer.from(c.text, "base64").toString("utf8") : c.text
}

const clipName = (s: string): string => (s.length > 60 ? `${s.slice(0, 57)}...` : s)

/** Converts a parsed HAR document; a string names what is wrong with it. */
export const convertHar = (raw: unknown, options: ConvertOptions): Converted | string => {
  const decoded = Schema.decodeUnknownResult(HarFile)(raw, { errors: "all" })
  if (Result.isFailure(decoded)) {
    const issues = SchemaIssue.makeFormatterStandardSchemaV1()(decoded.failure.issue).issues
    return `not a HAR file: ${issues.slice(0, 5).map((i) => `${(i.path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".")}: ${i.message}`).join("; ")}`
  }
  const notes: Array<string> = []
  let all = decoded.success.log.entries
  if (all.length > MAX_ENTRIES) {
    notes.push(`only the first ${MAX_ENTRIES} of ${all.length} entries were read`)
    all = all.slice(0, MAX_ENTRIES)
  }
  const entries = [...all].sort((a, b) => Date.parse(a.startedDateTime) - Date.parse(b.startedDateTime))
  let assets = 0
  let skipped = 0
  const kept: Array<{ entry: HarEntry; url: URL }> = []
  for (const entry of entries) {
    let url: URL
    try {
      url = new URL(entry.request.url)
    } catch {
      skipped++
      continue
    }
    const method = entry.request.method.toUpperCase()
    if ((url.protocol !== "http:" && url.protocol !== "https:") || !methods.has(method)) skipped++
    else if (!options.keepAssets && isAsset(entry, url)) assets++
    else kept.push({ entry, url })
  }
  if (kept.length === 0) return `no request left to convert (${entries.length} entries, ${assets} static assets dropped${assets > 0 ? ": try --keep-assets" : ""})`

  const target = kept[0]!.url.origin
  const requests: Array<RecordedRequest> = kept.map(({ entry, url }) => {
    const headers: Record<string, string> = {}
    for (const h of entry.request.headers) if (!dropHeader.test(h.name) && !/[\r\n]/.test(h.value)) headers[h.name.toLowerCase()] = h.value
    const pathAndQuery = `${url.pathname}${url.search}`
    const body = entry.request.postData?.text
    if (body !== undefined && headers["content-type"] === undefined && entry.request.postData?.mimeType) {
      headers["content-type"] = entry.request.postData.mimeType
    }
    return { path: url.origin === target ? pathAndQuery : url.href, headers, body: body === "" ? undefined : body }
  })
  const responses: Array<RecordedResponse> = kept.map(({ entry }) => ({ headers: entry.response.headers, text: bodyText(entry) }))
  const found = findTokens(requests, responses)

  const minThink = options.minThinkMs ?? 50
  const specs = kept.map(({ entry, url }, i): RequestSpec => {
    const r = requests[i]!
    const next = kept[i + 1]?.entry
    const end = Date.parse(entry.startedDateTime) + Math.max(0, entry.time ?? 0)
    const gap = next === undefined ? 0 : Math.round(Date.parse(next.startedDateTime) - end)
    const captures = found.filter((f) => f.at === i)
    const method = entry.request.method.toUpperCase() as RequestSpec["method"]
    return {
      name: clipName(`${method} ${url.pathname}`),
      ...(method !== "GET" ? { method } : {}),
      path: r.path,
      ...(Object.keys(r.headers).length > 0 ? { headers: r.headers } : {}),
      ...(r.body !== undefined ? { body: r.body } : {}),
      ...(captures.length > 0 ? { capture: Object.fromEntries(captures.map((c) => [c.name, c.spec])) } : {}),
      // A recorded 4xx/5xx is what a replay should get too; 2xx and 3xx are the default.
      ...(entry.response.status >= 400 && entry.response.status <= 599 ? { check: { status: entry.response.status } } : {}),
      ...(gap >= minThink ? { thinkTimeMs: gap } : {})
    }
  })
  const body = /\$\{/.test(JSON.stringify(kept.map((k) => [k.entry.request.url, k.entry.request.postData?.text ?? ""])))
  if (body) notes.push("a recorded URL or body contains ${...}, which grid reads as a variable: check the converted scenario")
  return {
    scenario: { target, requests: specs, load: { model: "closed", users: 1, durationSeconds: 60 } },
    entries: entries.length,
    kept: kept.length,
    assets,
    skipped,
    captures: found.map((f) => ({ name: f.name, from: specs[f.at]!.name, spec: f.spec })),
    notes
  }
}
