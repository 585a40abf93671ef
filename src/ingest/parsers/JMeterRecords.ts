// The JMeter CSV parser's cold path: records with quoted fields (split per RFC 4180, which
// may span lines) and records given as fields, turned into samples. The hot path for plain
// lines is the single-pass scan in JMeterCsv.ts.
import type { Sample } from "../Sample.ts"
import { COMMA, CR, type Columns, DROPPED, intOf, msOf, NL, QUOTE } from "./JMeterColumns.ts"

/** One CSV record at `s` whose fields may be quoted (RFC 4180: commas, doubled quotes and
 * newlines inside quotes). `undefined` when the record is not complete yet and more bytes may
 * come; else its fields, where the next record starts, how many newlines it held inside
 * quotes, and whether anything followed a closing quote that should not have. */
export const splitQuotedRecord = (
  buf: Buffer,
  s: number,
  atEnd: boolean
): { readonly fields: Array<string>; readonly next: number; readonly lines: number; readonly malformed: boolean } | undefined => {
  const fields: Array<string> = []
  let lines = 0
  let p = s
  const n = buf.length
  let malformed = false
  for (;;) {
    if (buf[p] === QUOTE) {
      const parts: Array<string> = []
      let q = p + 1
      let from = q
      for (;;) {
        const qi = buf.indexOf(QUOTE, q)
        if (qi < 0) {
          if (!atEnd) return undefined
          malformed = true
          q = n
          break
        }
        if (qi + 1 >= n && !atEnd) return undefined
        if (buf[qi + 1] === QUOTE) {
          parts.push(buf.toString("utf8", from, qi + 1))
          q = qi + 2
          from = q
          continue
        }
        parts.push(buf.toString("utf8", from, qi))
        q = qi + 1
        break
      }
      for (let i = p; i < q && i < n; i++) if (buf[i] === NL) lines++
      const text = parts.join("")
      if (q < n && buf[q] !== COMMA && buf[q] !== NL && buf[q] !== CR) malformed = true
      // Skip whatever follows the closing quote up to the field's end.
      while (q < n && buf[q] !== COMMA && buf[q] !== NL) q++
      fields.push(text)
      if (q >= n) {
        if (!atEnd) return undefined
        p = n
        break
      }
      if (buf[q] === NL) {
        p = q + 1
        break
      }
      p = q + 1
    } else {
      let q = p
      while (q < n && buf[q] !== COMMA && buf[q] !== NL) q++
      if (q >= n && !atEnd) return undefined
      let e = q
      if (q < n && buf[q] === NL && e > p && buf[e - 1] === CR) e--
      fields.push(buf.toString("utf8", p, e))
      if (q >= n) {
        p = n
        break
      }
      if (buf[q] === NL) {
        p = q + 1
        break
      }
      p = q + 1
    }
  }
  return { fields, next: p, lines, malformed }
}

/** A record's fields as a sample, by the columns; `undefined` when a needed field is missing
 * or not a number. */
export const sampleFromFields = (cols: Columns, f: ReadonlyArray<string>): Sample | undefined => {
  if (f.length <= cols.max) return undefined
  const timestamp = intOf(f[cols.ts])
  const elapsed = msOf(f[cols.elapsed])
  const bytesIn = cols.bytes >= 0 ? intOf(f[cols.bytes]) : 0
  const bytesOut = cols.sent >= 0 ? intOf(f[cols.sent]) : 0
  if (timestamp !== timestamp || elapsed !== elapsed || bytesIn !== bytesIn || bytesOut !== bytesOut) return undefined
  const success = cols.success < 0 || /^true$/i.test(f[cols.success] ?? "")
  let error: string | undefined = undefined
  if (!success) error = (cols.failure >= 0 && f[cols.failure]) || (cols.message >= 0 ? f[cols.message] : undefined)
  const status = cols.code >= 0 ? f[cols.code]! : ""
  return {
    timestamp,
    label: f[cols.label]!,
    latencyMs: elapsed === 0 && status === DROPPED ? NaN : elapsed,
    success,
    status,
    bytesIn,
    bytesOut,
    error
  }
}
