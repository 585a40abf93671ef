// Tells a result file's format from its first bytes, so `grid report` needs no --format: JMeter
// CSV (with or without its header), JMeter XML, Locust's stats history CSV, grid's Locust hook
// lines, k6 JSON lines and an Artillery JSON report. Also used to say what a file looks like
// when an explicit --format read nothing from it.
import type { ResultFormat } from "./parsers/Parser.ts"

export type Detected =
  | { readonly format: ResultFormat; readonly how: string }
  | { readonly problem: string }

const firstLine = (text: string): string => {
  const nl = text.indexOf("\n")
  return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, "")
}

const jsonObject = (line: string): Record<string, unknown> | undefined => {
  try {
    const v = JSON.parse(line)
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : undefined
  } catch {
    return undefined
  }
}

/** `head`: the file's first bytes (64 KiB is plenty), as text. */
export const detectFormat = (head: string): Detected => {
  const text = head.replace(/^\uFEFF/, "").trimStart()
  if (text === "") return { problem: "the file is empty" }
  if (text.startsWith("<")) {
    return /<testResults[\s>]|<httpSample[\s>]|<sample[\s>]/.test(text)
      ? { format: "jmeter-xml", how: "XML with <testResults>/<httpSample>" }
      : { problem: "XML, but not a JMeter XML result file (no <testResults> or <httpSample>)" }
  }
  if (text.startsWith("{") || text.startsWith("[")) {
    const o = jsonObject(firstLine(text))
    if (o !== undefined) {
      if (o.type === "Point" || o.type === "Metric") return { format: "k6", how: "JSON lines with type Metric/Point (k6 --out json)" }
      if ("timestamp" in o && "label" in o && "latencyMs" in o) return { format: "locust-hook", how: "JSON lines from grid's Locust hook" }
      return { problem: "JSON lines, but neither k6's (type Point/Metric) nor grid's Locust hook's (timestamp, label, latencyMs)" }
    }
    if (/"(aggregate|intermediate)"\s*:/.test(text)) return { format: "artillery", how: "a JSON document with aggregate/intermediate (artillery run --output)" }
    return { problem: "JSON, but not k6 lines, an Artillery report or Locust hook lines" }
  }
  const line = firstLine(text)
  const fields = line.split(",").map((f) => f.trim().replace(/^"|"$/g, ""))
  if (fields.includes("timeStamp") && fields.includes("elapsed")) return { format: "jmeter", how: "CSV with JMeter's header (timeStamp, elapsed ...)" }
  if (fields.includes("Timestamp") && fields.includes("Total Request Count")) return { format: "locust", how: "Locust's stats history CSV" }
  if (/^\d{10,13},\d+(\.\d+)?,/.test(line) && fields.length >= 12) return { format: "jmeter", how: "JMeter CSV without header (epoch ms, elapsed, label ...)" }
  return { problem: `not a known result format (first line: ${JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line)})` }
}
