// JMeter CSV JTL parser, on bytes. Handles JMeter 5's 17 default columns with a header (columns
// found by name, so other column sets work too), and JMeter 2.13's 12 default columns, which it
// writes without a header (`timeStamp,elapsed,label,responseCode,responseMessage,threadName,
// dataType,success,bytes,grpThreads,allThreads,Latency`). Quoted fields (commas, doubled quotes,
// newlines inside) take a slower path; lines without a quote, nearly all of them, are split in
// place and only the label and status are turned into (interned) strings.
//
// Mapping: latencyMs = `elapsed` (JMeter's response time, whole ms; grid's engine writes
// fractional ms there; JMeter's `Latency` is time to first byte;
// NaN for grid's own `dropped` arrivals: counted, never in a histogram),
// timestamp = `timeStamp` as JMeter wrote it, bytesIn = `bytes`, bytesOut = `sentBytes` (0 when
// absent), error = `failureMessage`, else `responseMessage`, for failed samples only.
import type { SampleSink } from "../Sample.ts"
import { Interner } from "./Interner.ts"
import { BadLines, type ResultParser } from "./Parser.ts"
import { sampleFromFields, splitQuotedRecord } from "./JMeterRecords.ts"

import {
  DROPPED,
  COMMA,
  QUOTE,
  DOT,
  NL,
  CR,
  type Columns,
  columnsOf,
  JMETER_213_COLUMNS,
  JMETER_5_COLUMNS,
  R_LABEL,
  R_CODE,
  R_SUCCESS,
  R_MESSAGE,
  R_FAILURE,
  R_TS,
  R_ELAPSED,
  R_BYTES,
  rolesOf,
} from "./JMeterColumns.ts"

export class JMeterCsvParser implements ResultParser {
  readonly bad = new BadLines()
  private cols: Columns | undefined = undefined
  private carry: Buffer | undefined = undefined
  private lineNo = 1
  private readonly labels = new Interner()
  private readonly codes = new Interner(1000)
  /** What each column up to the last one needed is for (R_*). */
  private roles: Uint8Array = new Uint8Array(0)
  private hasCode = false
  /** 5 or 2 when the columns start like JMeter 5's or 2.13's defaults (straight-line path), else 0. */
  private layout: 0 | 2 | 5 = 0

  private readonly sink: SampleSink
  constructor(sink: SampleSink) {
    this.sink = sink
  }

  push(chunk: Uint8Array): void {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    if (this.carry !== undefined) {
      // Join the held-back record with the chunk's first line only, not the whole chunk.
      const nl = buf.indexOf(NL)
      if (nl < 0) {
        this.carry = Buffer.concat([this.carry, buf])
        return
      }
      const head = Buffer.concat([this.carry, buf.subarray(0, nl + 1)])
      this.carry = undefined
      const used = this.parse(head, false)
      if (used < head.length) buf = Buffer.concat([head.subarray(used), buf.subarray(nl + 1)])
      else buf = buf.subarray(nl + 1)
    }
    const used = this.parse(buf, false)
    if (used < buf.length) this.carry = Buffer.from(buf.subarray(used))
  }

  end(): void {
    const c = this.carry
    this.carry = undefined
    if (c === undefined) return
    const buf = c[c.length - 1] === NL ? c : Buffer.concat([c, Buffer.from([NL])])
    const used = this.parse(buf, true)
    if (used < buf.length) this.badRecord(buf, used, buf.length - 1, this.lineNo, "incomplete record at the end of the file")
  }

  /** Parses whole records in buf; returns the offset of the first byte not consumed. */
  private parse(buf: Buffer, atEnd: boolean): number {
    let pos = 0
    const n = buf.length
    // Lines up to the chunk's last newline are complete: the scans below stop at a newline
    // without checking the buffer's length on every byte.
    const lastNl = buf.lastIndexOf(NL)
    if (lastNl < 0) return 0
    let nextQuote = buf.indexOf(QUOTE, 0)
    if (nextQuote < 0) nextQuote = n
    while (pos <= lastNl) {
      if (nextQuote < pos) {
        nextQuote = buf.indexOf(QUOTE, pos)
        if (nextQuote < 0) nextQuote = n
      }
      if (nextQuote > pos) {
        const nl = this.cols === undefined ? this.headerLine(buf, pos) : this.layout !== 0 ? this.defaultLine(buf, pos, nextQuote) : this.fastLine(buf, pos, nextQuote)
        if (nl >= 0) {
          this.lineNo++
          pos = nl + 1
          continue
        }
      }
      const next = this.slowRecord(buf, pos, atEnd)
      if (next < 0) return pos
      pos = next
    }
    return pos
  }

  /** The first line, before columns are known; returns its newline's offset. */
  private headerLine(buf: Buffer, s: number): number {
    const nl = buf.indexOf(NL, s)
    const e = nl > s && buf[nl - 1] === CR ? nl - 1 : nl
    const q = buf.indexOf(QUOTE, s)
    if (q >= 0 && q < nl) return -1
    if (e > s) this.firstRecord(buf, s, e, undefined, this.lineNo)
    return nl
  }

  /**
   * The default column layouts (JMeter 5's and 2.13's first columns) as straight-line code: the
   * same work as `fastLine` without its per-column dispatch. Anything unexpected on the line
   * hands it to `fastLine`, which also reports bad lines.
   */
  private defaultLine(buf: Buffer, s: number, nextQuote: number): number {
    let i = s
    let c = buf[i]!
    let d = c - 48
    if (d < 0 || d > 9) return this.fastLine(buf, s, nextQuote)
    let ts = 0
    while (d >= 0 && d <= 9) {
      ts = ts * 10 + d
      c = buf[++i]!
      d = c - 48
    }
    if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
    c = buf[++i]!
    d = c - 48
    if (d < 0 || d > 9) return this.fastLine(buf, s, nextQuote)
    let elapsed = 0
    while (d >= 0 && d <= 9) {
      elapsed = elapsed * 10 + d
      c = buf[++i]!
      d = c - 48
    }
    if (c === DOT) {
      // grid's engine writes fractional ms (JMeter itself writes whole ms).
      let frac = 0
      let scale = 1
      c = buf[++i]!
      d = c - 48
      while (d >= 0 && d <= 9) {
        frac = frac * 10 + d
        scale *= 10
        c = buf[++i]!
        d = c - 48
      }
      elapsed += frac / scale
    }
    if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
    c = buf[++i]!
    const labelS = i
    let labelH = 0x811c9dc5
    while (c !== COMMA && c !== NL) {
      labelH = Math.imul(labelH ^ c, 0x01000193)
      c = buf[++i]!
    }
    if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
    const labelE = i
    c = buf[++i]!
    const codeS = i
    let codeH = 0x811c9dc5
    while (c !== COMMA && c !== NL) {
      codeH = Math.imul(codeH ^ c, 0x01000193)
      c = buf[++i]!
    }
    if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
    const codeE = i
    c = buf[++i]!
    const msgS = i
    while (c !== COMMA && c !== NL) c = buf[++i]!
    const msgE = i
    if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
    c = buf[++i]! // threadName
    while (c !== COMMA && c !== NL) c = buf[++i]!
    if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
    c = buf[++i]! // dataType
    while (c !== COMMA && c !== NL) c = buf[++i]!
    if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
    c = buf[++i]!
    const success = c === 116 || c === 84 // "true" / "TRUE"
    while (c !== COMMA && c !== NL) c = buf[++i]!
    if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
    c = buf[++i]!
    let failS = i
    let failE = i
    if (this.layout === 5) {
      while (c !== COMMA && c !== NL) c = buf[++i]!
      failE = i
      if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
      c = buf[++i]!
    }
    d = c - 48
    if (d < 0 || d > 9) return this.fastLine(buf, s, nextQuote)
    let bytesIn = 0
    while (d >= 0 && d <= 9) {
      bytesIn = bytesIn * 10 + d
      c = buf[++i]!
      d = c - 48
    }
    let bytesOut = 0
    if (this.layout === 5) {
      if (c !== COMMA) return this.fastLine(buf, s, nextQuote)
      c = buf[++i]!
      d = c - 48
      if (d < 0 || d > 9) return this.fastLine(buf, s, nextQuote)
      while (d >= 0 && d <= 9) {
        bytesOut = bytesOut * 10 + d
        c = buf[++i]!
        d = c - 48
      }
    }
    if (c !== COMMA && c !== NL && c !== CR) return this.fastLine(buf, s, nextQuote)
    // The rest of the line (thread counts, URL, ...) is not needed: a native search finds its end.
    const nl = c === NL ? i : buf.indexOf(NL, i)
    if (nextQuote < nl) return -1
    const label = this.labels.getHashed(buf, labelS, labelE, labelH)
    const status = this.codes.getHashed(buf, codeS, codeE, codeH)
    let error: string | undefined = undefined
    if (!success) {
      if (failE > failS) error = buf.toString("utf8", failS, failE)
      else if (msgE > msgS) error = buf.toString("utf8", msgS, msgE)
    }
    this.sink({ timestamp: ts, label, latencyMs: elapsed === 0 && status === DROPPED ? NaN : elapsed, success, status, bytesIn, bytesOut, error })
    return nl
  }

  /**
   * One line without quotes, split in place in a single pass: each column is scanned by its
   * role (numbers parsed and label/status hashed while scanning, other columns skipped).
   * Returns the offset of its newline, or -1 (nothing emitted) if a quote turns out to be
   * inside the line, for the slow path to take over.
   */
  private fastLine(buf: Buffer, s: number, nextQuote: number): number {
    const roles = this.roles
    const max = roles.length - 1
    let i = s
    let f = 0
    let c = buf[i]!
    let ts = 0
    let elapsed = 0
    let bytesIn = 0
    let bytesOut = 0
    let ok = true
    let success = true
    let labelS = 0
    let labelE = 0
    let labelH = 0
    let codeS = 0
    let codeE = 0
    let codeH = 0
    let msgS = 0
    let msgE = 0
    let failS = 0
    let failE = 0
    for (;;) {
      const role = roles[f]!
      const fs = i
      if (role >= R_TS) {
        let v = 0
        let d = c - 48
        if (d < 0 || d > 9) ok = false
        while (d >= 0 && d <= 9) {
          v = v * 10 + d
          c = buf[++i]!
          d = c - 48
        }
        if (c === DOT && role === R_ELAPSED) {
          let frac = 0
          let scale = 1
          c = buf[++i]!
          d = c - 48
          while (d >= 0 && d <= 9) {
            frac = frac * 10 + d
            scale *= 10
            c = buf[++i]!
            d = c - 48
          }
          v += frac / scale
        }
        if (c !== COMMA && c !== NL) {
          ok = false
          while (c !== COMMA && c !== NL) c = buf[++i]!
        }
        if (role === R_TS) ts = v
        else if (role === R_ELAPSED) elapsed = v
        else if (role === R_BYTES) bytesIn = v
        else bytesOut = v
      } else if (role === R_LABEL || role === R_CODE) {
        let h = 0x811c9dc5
        while (c !== COMMA && c !== NL) {
          h = Math.imul(h ^ c, 0x01000193)
          c = buf[++i]!
        }
        if (role === R_LABEL) {
          labelS = fs
          labelE = i
          labelH = h
        } else {
          codeS = fs
          codeE = i
          codeH = h
        }
      } else {
        while (c !== COMMA && c !== NL) c = buf[++i]!
        if (role === R_SUCCESS) success = buf[fs] === 116 || buf[fs] === 84 // "true" / "TRUE"
        else if (role === R_MESSAGE) {
          msgS = fs
          msgE = i
        } else if (role === R_FAILURE) {
          failS = fs
          failE = i
        }
      }
      f++
      if (c === NL || f > max) break
      c = buf[++i]!
    }
    // The rest of the line (thread counts, URL, ...) is not needed: a native search finds its end.
    const nl = c === NL ? i : buf.indexOf(NL, i)
    if (nextQuote < nl) return -1
    let e = nl
    if (e > s && buf[e - 1] === CR) e--
    if (e === s) return nl
    if (f <= max || !ok) {
      this.badRecord(buf, s, e, this.lineNo, f <= max ? "too few fields for the columns" : "a field has the wrong type (timestamp, elapsed ...)")
      return nl
    }
    // A CR before the newline belongs to no field.
    if (labelE === nl && labelE > e) labelE = e
    if (codeE === nl && codeE > e) codeE = e
    const label = this.labels.getHashed(buf, labelS, labelE, labelH)
    const status = this.hasCode ? this.codes.getHashed(buf, codeS, codeE, codeH) : ""
    let error: string | undefined = undefined
    if (!success) {
      if (failE > failS) error = buf.toString("utf8", failS, Math.min(failE, e))
      else if (msgE > msgS) error = buf.toString("utf8", msgS, Math.min(msgE, e))
    }
    this.sink({ timestamp: ts, label, latencyMs: elapsed === 0 && status === DROPPED ? NaN : elapsed, success, status, bytesIn, bytesOut, error })
    return nl
  }

  /** A record with quotes (see splitQuotedRecord). -1 if it needs more bytes. */
  private slowRecord(buf: Buffer, s: number, atEnd: boolean): number {
    const record = splitQuotedRecord(buf, s, atEnd)
    if (record === undefined) return -1
    const startLine = this.lineNo
    this.lineNo += record.lines + 1
    if (record.malformed) this.badRecord(buf, s, Math.max(s, record.next - 1), startLine, "malformed quoted field")
    else this.fromFields(record.fields, buf, s, record.next - 1, startLine)
    return record.next
  }

  private fromFields(f: ReadonlyArray<string>, buf: Buffer, s: number, e: number, line: number): void {
    const cols = this.cols
    if (cols === undefined) return this.firstRecord(buf, s, e, f, line)
    const sample = sampleFromFields(cols, f)
    if (sample === undefined) this.badRecord(buf, s, e, line, "not a JMeter sample (fields missing or of the wrong type)")
    else this.sink(sample)
  }

  /** First record: a header names the columns; without one, the count tells 2.13 from 5.x. */
  private firstRecord(buf: Buffer, s: number, e: number, fields: ReadonlyArray<string> | undefined, line: number): void {
    const f = fields ?? buf.toString("utf8", s, e).split(",")
    const first = f[0] ?? ""
    if (/^\d+$/.test(first)) {
      const names = f.length >= 17 ? JMETER_5_COLUMNS : JMETER_213_COLUMNS
      this.useColumns(f.length >= 12 ? columnsOf(names) : undefined, names)
      if (this.cols === undefined) return this.badRecord(buf, s, e, line, "too few fields for a JMeter CSV without header")
      if (fields !== undefined) this.fromFields(fields, buf, s, e, line)
      else this.fastLine(buf, s, buf.length)
      return
    }
    const names = f.map((x) => x.trim())
    this.useColumns(columnsOf(names), names)
    if (this.cols === undefined) this.badRecord(buf, s, e, line, "not a JMeter CSV header (needs timeStamp, elapsed, label ...)")
  }

  private useColumns(c: Columns | undefined, names: ReadonlyArray<string>): void {
    this.cols = c
    if (c === undefined) return
    const prefix = (cols: ReadonlyArray<string>, n: number) => cols.slice(0, n).every((x, i) => names[i] === x)
    this.layout = prefix(JMETER_5_COLUMNS, 11) ? 5 : prefix(JMETER_213_COLUMNS, 9) && names[9] !== "failureMessage" ? 2 : 0
    this.roles = rolesOf(c)
    this.hasCode = c.code >= 0
  }

  private badRecord(buf: Buffer, s: number, e: number, line: number, reason: string): void {
    this.bad.add(line, buf.toString("utf8", s, e), reason)
  }
}

export const jmeterCsv = (sink: SampleSink): ResultParser => new JMeterCsvParser(sink)

export { JMETER_213_COLUMNS, JMETER_5_COLUMNS } from "./JMeterColumns.ts"
