// The `grid engine` result file: every sample as a JMeter 5 CSV JTL line (header + the 17
// default columns), so the daemon tails the built-in engine with the same JTL parser as
// JMeter. A SampleSink that appends to an in-memory string and writes it out in batches
// (64 KB, or whenever `flush` is called: the CLI flushes twice a second so a tailing
// reader sees fresh data). JMeter writes whole milliseconds; this writes `elapsed` in
// fractional ms (microseconds), which grid's JTL parser reads, and `Latency` whole.
// `append`: one of several engine workers sharing the file their parent created with the
// header. Each batch is whole lines in one O_APPEND write, which Linux does not interleave
// with another process's on a regular file, so the workers' lines never mix.
import { closeSync, openSync, writeSync } from "node:fs"
import type { Sample, SampleSink } from "../ingest/Sample.ts"

export const JTL_HEADER =
  "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect"

const needsQuotes = /[",\r\n]/
const csv = (s: string): string => (needsQuotes.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

export class JtlWriter {
  private buffer = ""
  private fd: number | undefined
  /** Running users, for the grpThreads/allThreads columns. */
  private readonly users: () => number
  written = 0

  constructor(file: string, users: () => number = () => 0, options: { readonly append?: boolean } = {}) {
    this.fd = openSync(file, options.append === true ? "a" : "w")
    this.users = users
    if (options.append !== true) {
      this.buffer = `${JTL_HEADER}\n`
      this.flush()
    }
  }

  readonly sink: SampleSink = (s: Sample): void => {
    // Microseconds, as fractional ms: whole ms would quantise fast targets' percentiles.
    // A sample without latency (a dropped arrival) is written as 0 with status `dropped`.
    const elapsed = s.latencyMs >= 0 ? Math.round(s.latencyMs * 1000) / 1000 : 0
    const message = s.success ? "OK" : csv(s.error ?? "")
    const u = this.users()
    this.buffer += `${Math.round(s.timestamp)},${elapsed},${csv(s.label)},${csv(s.status)},${message},grid-engine,text,${
      s.success ? "true" : "false"
    },${s.success ? "" : message},${s.bytesIn},${s.bytesOut},${u},${u},,${Math.round(elapsed)},0,0\n`
    this.written++
    if (this.buffer.length >= 65536) this.flush()
  }

  flush(): void {
    if (this.fd === undefined || this.buffer.length === 0) return
    const data = Buffer.from(this.buffer)
    this.buffer = ""
    let off = 0
    while (off < data.length) off += writeSync(this.fd, data, off)
  }

  close(): void {
    this.flush()
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}
