// What an engine worker (`grid engine --worker i/N`, one process per core) and its parent say
// to each other over the worker's pipes. The parent writes lines to the worker's stdin: `go`
// (every worker is ready: start the load now, together) and `stop` (end the run early; the
// end of stdin means the same: a worker never outlives its parent). The worker writes one
// JSON message a line to stdout, each decoded here through a Schema: `ready` (scenario loaded,
// targets probed), `status` (live figures, twice a second), `rows` (its closed windows, when
// its parent aggregates: WorkerRows.ts) and `end` (everything sent). Errors go to stderr with
// the exit codes of `grid engine`.
import { Result, Schema } from "effect"

export const WorkerRow = Schema.Struct({
  /** Start of the worker's window, epoch ms. */
  at: Schema.Finite,
  label: Schema.String,
  count: Schema.Finite,
  errors: Schema.Finite,
  bytesIn: Schema.Finite,
  bytesOut: Schema.Finite,
  /** null: no sample of the window had a latency (dropped arrivals only). */
  min: Schema.NullOr(Schema.Finite),
  max: Schema.NullOr(Schema.Finite),
  sum: Schema.Finite,
  status: Schema.Record(Schema.String, Schema.Finite),
  /** The recorder's non-empty buckets as [index, count, index, count, ...]. */
  buckets: Schema.Array(Schema.Finite),
  /** The whole histogram instead, when a latency lies past the recorder's flat range. */
  hdr: Schema.optional(Schema.String)
})
export type WorkerRow = typeof WorkerRow.Type

export const WorkerMessage = Schema.Union([
  Schema.Struct({ t: Schema.Literal("ready") }),
  Schema.Struct({
    t: Schema.Literal("status"),
    users: Schema.Finite,
    dropped: Schema.Finite,
    arrivals: Schema.Finite,
    /** Samples so far (written to the JTL, or aggregated into rows). */
    samples: Schema.Finite,
    /** CPU time this worker used since `go`, ms. */
    cpuMs: Schema.Finite
  }),
  Schema.Struct({ t: Schema.Literal("rows"), rows: Schema.Array(WorkerRow) }),
  Schema.Struct({ t: Schema.Literal("end"), samples: Schema.Finite })
])
export type WorkerMessage = typeof WorkerMessage.Type

const decode = Schema.decodeUnknownResult(Schema.fromJsonString(WorkerMessage))

/** A worker's line as a message; undefined for anything else (it is then logged as output). */
export const readWorkerLine = (line: string): WorkerMessage | undefined => {
  if (!line.startsWith("{")) return undefined
  const r = decode(line)
  return Result.isSuccess(r) ? r.success : undefined
}

export const workerLine = (m: WorkerMessage): string => `${JSON.stringify(m)}\n`

/** `--worker i/N` as a share; a problem message when it is not one. */
export const parseWorkerFlag = (text: string): { readonly index: number; readonly count: number } | string => {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim())
  if (m === null) return `--worker ${text}: expected i/N, e.g. 0/4`
  const index = Number(m[1])
  const count = Number(m[2])
  return count >= 1 && index < count ? { index, count } : `--worker ${text}: i must be below N`
}
