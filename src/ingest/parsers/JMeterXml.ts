// JMeter XML JTL parser (`jmeter.save.saveservice.output_format=xml`), streaming at the tag
// level: the file is never parsed as a whole document. Samples are the direct children of
// <testResults> (`<httpSample>` or `<sample>`; attributes t = elapsed, ts = timestamp, s =
// success, lb = label, rc = code, rm = message, by = bytes, sby = sent bytes). Sub-results
// nested inside a sample (redirects, transaction children) are not counted, as JMeter's own
// reports count only parents. A failed sample's error is its first assertion failureMessage,
// else its response message.
import type { SampleSink } from "../Sample.ts"
import { BadLines, type ResultParser } from "./Parser.ts"

const LT = 60
const GT = 62

const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }
export const unescapeXml = (s: string): string =>
  s.indexOf("&") < 0
    ? s
    : s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (m, e: string) =>
      e[0] === "#"
        ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
        : entities[e] ?? m)

const attrRe = /([\w.:-]+)\s*=\s*("([^"]*)"|'([^']*)')/g
const attributes = (tag: string): Map<string, string> => {
  const out = new Map<string, string>()
  for (const m of tag.matchAll(attrRe)) out.set(m[1]!, unescapeXml(m[3] ?? m[4] ?? ""))
  return out
}

/** Offset of the `>` closing the tag that starts at `s` (quotes respected), or -1. */
const tagEnd = (buf: Buffer, s: number): number => {
  let quote = 0
  for (let i = s + 1; i < buf.length; i++) {
    const c = buf[i]!
    if (quote !== 0) {
      if (c === quote) quote = 0
    } else if (c === 34 || c === 39) quote = c
    else if (c === GT) return i
  }
  return -1
}

export const jmeterXml = (sink: SampleSink): ResultParser => {
  const bad = new BadLines()
  let carry: Buffer | undefined
  let line = 1
  let depth = 0
  let pending: { attrs: Map<string, string>; line: number; text: string } | undefined
  let failureMessage: string | undefined
  let inFailureMessage = false
  let text = ""

  const emit = (attrs: Map<string, string>, at: number, raw: string) => {
    const t = Number(attrs.get("t"))
    const ts = Number(attrs.get("ts"))
    const label = attrs.get("lb")
    if (!Number.isFinite(t) || !Number.isFinite(ts) || label === undefined) return bad.add(at, raw, "a sample without numeric t and ts or without lb")
    const success = attrs.get("s") === "true"
    sink({
      timestamp: ts,
      label,
      latencyMs: t,
      success,
      status: attrs.get("rc") ?? "",
      bytesIn: Number(attrs.get("by") ?? 0) || 0,
      bytesOut: Number(attrs.get("sby") ?? 0) || 0,
      error: success ? undefined : failureMessage || attrs.get("rm") || undefined
    })
  }

  const countLines = (buf: Buffer, s: number, e: number) => {
    for (let p = buf.indexOf(10, s); p >= 0 && p < e; p = buf.indexOf(10, p + 1)) line++
  }

  const parse = (buf: Buffer, atEnd: boolean): number => {
    let pos = 0
    for (;;) {
      const lt = buf.indexOf(LT, pos)
      if (lt < 0) {
        if (inFailureMessage) text += buf.toString("utf8", pos)
        countLines(buf, pos, buf.length)
        return buf.length
      }
      if (inFailureMessage) text += buf.toString("utf8", pos, lt)
      countLines(buf, pos, lt)
      // Comments, CDATA and declarations end with their own markers.
      const head = buf.toString("latin1", lt, Math.min(lt + 9, buf.length))
      let end: number
      let skipTo = ""
      if (head.startsWith("<!--")) skipTo = "-->"
      else if (head.startsWith("<![CDATA[")) skipTo = "]]>"
      if (skipTo !== "") {
        const e = buf.indexOf(skipTo, lt + 4)
        if (e < 0) return atEnd ? buf.length : lt
        if (inFailureMessage && skipTo === "]]>") text += buf.toString("utf8", lt + 9, e)
        countLines(buf, lt, e)
        pos = e + skipTo.length
        continue
      }
      if (head.length < 2 && !atEnd) return lt
      end = tagEnd(buf, lt)
      if (end < 0) {
        if (!atEnd) return lt
        bad.add(line, buf.toString("utf8", lt, Math.min(buf.length, lt + 200)), "unterminated tag")
        return buf.length
      }
      const tag = buf.toString("utf8", lt, end + 1)
      const tagLine = line
      countLines(buf, lt, end)
      pos = end + 1
      if (tag[1] === "?" || tag[1] === "!") continue
      const selfClosing = tag[tag.length - 2] === "/"
      if (tag[1] === "/") {
        const name = tag.slice(2, -1).trim()
        if (name === "failureMessage" && inFailureMessage) {
          inFailureMessage = false
          if (failureMessage === undefined && text.trim() !== "") failureMessage = unescapeXml(text.trim())
        }
        depth--
        if (depth === 1 && pending !== undefined) {
          emit(pending.attrs, pending.line, pending.text)
          pending = undefined
        }
        continue
      }
      const name = /^<([\w.:-]+)/.exec(tag)?.[1] ?? ""
      if (depth === 1 && (name === "httpSample" || name === "sample")) {
        failureMessage = undefined
        const attrs = attributes(tag)
        if (selfClosing) emit(attrs, tagLine, tag)
        else pending = { attrs, line: tagLine, text: tag }
      } else if (name === "failureMessage" && pending !== undefined && !selfClosing) {
        inFailureMessage = true
        text = ""
      }
      if (!selfClosing) depth++
    }
  }

  return {
    bad,
    push(chunk) {
      let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      if (carry !== undefined) buf = Buffer.concat([carry, buf])
      const used = parse(buf, false)
      carry = used < buf.length ? Buffer.from(buf.subarray(used)) : undefined
    },
    end() {
      if (carry !== undefined) parse(carry, true)
      carry = undefined
      if (pending !== undefined) {
        // The tool died inside a sample element: what its start tag says is still a sample.
        emit(pending.attrs, pending.line, pending.text)
        pending = undefined
      }
    }
  }
}
