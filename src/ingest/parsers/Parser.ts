// The contract every result-format parser implements: a synchronous push parser over byte
// chunks (the tailer feeds what the tool has written so far), emitting Samples to a SampleSink.
// A trailing partial record is held back until more bytes or `end()` arrive. Corrupt records
// are counted with their line numbers, never fatal, never silently dropped.
import type { SampleSink } from "../Sample.ts"

/**
 * Result formats: the protocol's (`params.results.format`) plus `locust-hook`, the per-request
 * JSON lines of grid's Locust hook (src/tools/locust/grid_locust_hook.py). `locust` reads
 * Locust's CSV stats history, or the hook's lines when the file starts with `{`.
 */
export type ResultFormat = "jmeter" | "jmeter-xml" | "locust" | "locust-hook" | "k6" | "artillery"
export const resultFormats = ["jmeter", "jmeter-xml", "locust", "locust-hook", "k6", "artillery"] as const

export interface BadLine {
  /** 1-based line number in the result file where the bad record starts. */
  readonly line: number
  /** The record's text, cut to 200 characters. */
  readonly text: string
  /** Why it was not read (`not JSON`, `no timestamp` ...), when the parser says. */
  readonly reason?: string | undefined
}

/** Count of corrupt records and the first few of them. */
export class BadLines {
  count = 0
  readonly first: Array<BadLine> = []
  readonly keep: number
  constructor(keep = 10) {
    this.keep = keep
  }
  add(line: number, text: string, reason?: string): void {
    this.count++
    if (this.first.length < this.keep) {
      this.first.push({ line, text: text.length > 200 ? text.slice(0, 200) + "…" : text, ...(reason !== undefined ? { reason } : {}) })
    }
  }
  toJSON(): { count: number; first: Array<BadLine> } {
    return { count: this.count, first: [...this.first] }
  }
}

export interface ResultParser {
  /** Parses the complete records in `chunk` (plus what was held back); holds back a partial tail. */
  push(chunk: Uint8Array): void
  /** No more bytes will come: the held-back tail is parsed as a last record. */
  end(): void
  readonly bad: BadLines
}

export type ParserFactory = (sink: SampleSink) => ResultParser

/** Splits bytes into lines, holding back a partial last line; for the line-oriented formats. */
export class LineSplitter {
  private carry: Buffer | undefined = undefined
  /** Line number of the next line handed out. */
  lineNo = 1
  private readonly onLine: (buf: Buffer, start: number, end: number, lineNo: number) => void
  constructor(onLine: (buf: Buffer, start: number, end: number, lineNo: number) => void) {
    this.onLine = onLine
  }

  push(chunk: Uint8Array): void {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    if (this.carry !== undefined) {
      buf = Buffer.concat([this.carry, buf])
      this.carry = undefined
    }
    let pos = 0
    const n = buf.length
    while (pos < n) {
      const nl = buf.indexOf(10, pos)
      if (nl < 0) break
      let end = nl
      if (end > pos && buf[end - 1] === 13) end--
      this.onLine(buf, pos, end, this.lineNo++)
      pos = nl + 1
    }
    if (pos < n) this.carry = Buffer.from(buf.subarray(pos))
  }

  end(): void {
    const c = this.carry
    this.carry = undefined
    if (c !== undefined && c.length > 0) {
      let end = c.length
      if (c[end - 1] === 13) end--
      this.onLine(c, 0, end, this.lineNo++)
    }
  }
}
