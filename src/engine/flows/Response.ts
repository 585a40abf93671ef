// What a capture or a check reads from one response: the raw header list the parser already
// made and, only when something reads it, the body (bounded). The body is decoded and JSON
// parsed at most once, on first use, and never for a request nobody inspects.

/** What a send asks the connection to hand back beyond the status: 0 nothing, 1 headers, 2 headers and body. */
export type Collect = 0 | 1 | 2

/** Bodies kept for captures and checks are clipped to this many bytes. */
export const MAX_BODY_BYTES = 1024 * 1024

export class ResponseView {
  /** Flat [name, value, name, value, ...] as http-parser-js (or undici) gives them. */
  readonly headers: ReadonlyArray<string>
  private readonly chunks: ReadonlyArray<Buffer> | undefined
  private text: string | undefined = undefined
  private parsed: { ok: true; value: unknown } | { ok: false; error: string } | undefined = undefined

  constructor(headers: ReadonlyArray<string>, chunks: ReadonlyArray<Buffer> | undefined) {
    this.headers = headers
    this.chunks = chunks
  }

  /** The first value of a header (name case-insensitive). */
  header(name: string): string | undefined {
    const lower = name.toLowerCase()
    for (let i = 0; i < this.headers.length; i += 2) {
      if (this.headers[i]!.length === lower.length && this.headers[i]!.toLowerCase() === lower) return this.headers[i + 1]
    }
    return undefined
  }

  /** Every value of a header (Set-Cookie comes once per cookie). */
  headerAll(name: string): Array<string> {
    const lower = name.toLowerCase()
    const out: Array<string> = []
    for (let i = 0; i < this.headers.length; i += 2) {
      if (this.headers[i]!.length === lower.length && this.headers[i]!.toLowerCase() === lower) out.push(this.headers[i + 1]!)
    }
    return out
  }

  get body(): string {
    if (this.text === undefined) {
      this.text = this.chunks === undefined ? "" : this.chunks.length === 1 ? this.chunks[0]!.toString("utf8") : Buffer.concat(this.chunks).toString("utf8")
    }
    return this.text
  }

  json(): { ok: true; value: unknown } | { ok: false; error: string } {
    if (this.parsed === undefined) {
      try {
        this.parsed = { ok: true, value: JSON.parse(this.body) }
      } catch {
        this.parsed = { ok: false, error: "body is not JSON" }
      }
    }
    return this.parsed
  }
}

/** Collects body chunks up to MAX_BODY_BYTES (the rest is counted by the connection, not kept). */
export class BodyCollector {
  readonly chunks: Array<Buffer> = []
  private size = 0
  add(chunk: Buffer): void {
    if (this.size >= MAX_BODY_BYTES) return
    const room = MAX_BODY_BYTES - this.size
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room)
    this.chunks.push(kept)
    this.size += kept.length
  }
}
