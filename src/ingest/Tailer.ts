// Follows a result file while the tool is still writing it: each poll reads what was appended
// since the last one, in 1 MB chunks, straight into the format's parser (which holds back a
// partial last record). Rotation is not handled (no supported tool rotates its result file);
// a file that shrinks is reported once as truncated and then followed from its new end.
// With `within` (the test's work directory) the file is opened only if it is a regular file
// inside it (WorkFile.ts): a symlink to a host file or a FIFO is refused, never read.
import { closeSync, fstatSync, openSync, readSync } from "node:fs"
import type { ResultParser } from "./parsers/Parser.ts"
import { openInside } from "./WorkFile.ts"

const CHUNK = 1 << 20

export class Tailer {
  private fd: number | undefined = undefined
  private offset = 0
  private readonly buf = Buffer.allocUnsafe(CHUNK)
  truncated = false
  readonly path: string
  readonly parser: ResultParser
  readonly within: string | undefined
  constructor(path: string, parser: ResultParser, within?: string) {
    this.path = path
    this.parser = parser
    this.within = within
  }

  /** Whether the file has been opened (it exists). */
  get opened(): boolean {
    return this.fd !== undefined
  }

  get bytesRead(): number {
    return this.offset
  }

  /**
   * Reads up to `maxBytes` of what is new. Returns the bytes read, or -1 while the file does
   * not exist yet. Other I/O errors are thrown (the caller turns them into a typed error), a
   * refused file as WorkFileRefused.
   */
  poll(maxBytes = 64 * CHUNK): number {
    if (this.fd === undefined) {
      if (this.within !== undefined) {
        const fd = openInside(this.path, this.within)
        if (fd === undefined) return -1
        this.fd = fd
      } else {
        try {
          this.fd = openSync(this.path, "r")
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") return -1
          throw e
        }
      }
    }
    const size = fstatSync(this.fd).size
    if (size < this.offset) {
      this.truncated = true
      this.offset = size
    }
    let total = 0
    while (total < maxBytes && this.offset < size) {
      const n = readSync(this.fd, this.buf, 0, Math.min(CHUNK, size - this.offset), this.offset)
      if (n <= 0) break
      this.offset += n
      total += n
      this.parser.push(this.buf.subarray(0, n))
    }
    return total
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}
