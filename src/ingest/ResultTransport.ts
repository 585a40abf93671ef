// Where result windows go: one primitive, publish a window and wait for its acknowledgement.
// The NATS-backed layer (src/nats/) publishes to `grid.results.<testId>.<nodeId>` in stream
// GRID_RESULTS with header `Nats-Msg-Id: <testId>.<nodeId>.<seq>` (resultMsgId), so a retried
// publish is dropped by JetStream's duplicate window. The memory layer here records windows
// (deduplicated the same way) and can be told to fail, to play NATS being away in tests.
import { Context, Effect, Layer, Schema } from "effect"
import { resultMsgId, type ResultWindow } from "../protocol/results.ts"

export class ResultTransportError extends Schema.TaggedError<ResultTransportError>()("ResultTransportError", {
  message: Schema.String,
  /** No retry can get this window through (over the payload limit, no permission). */
  permanent: Schema.optional(Schema.Boolean)
}) {}

export class ResultTransport extends Context.Service<ResultTransport, {
  /** Publishes one window and waits for the ack; idempotent per (testId, nodeId, seq). */
  readonly publish: (window: ResultWindow) => Effect.Effect<void, ResultTransportError>
  /** The largest encoded window the transport carries now (NATS's max_payload less headers). */
  readonly maxBytes: () => number
}>()("grid/ingest/ResultTransport") {
  /** A transport that records into `memory`. */
  static readonly layerMemory = (memory: MemoryTransport) => Layer.succeed(ResultTransport, memory.service)
}

/** The in-memory transport: what was published, in order, and a switch to make it fail. */
export interface MemoryTransport {
  readonly service: ResultTransport["Service"]
  /** Accepted windows, in publish order, duplicates dropped as JetStream would. */
  readonly windows: Array<ResultWindow>
  /** Publishes refused as duplicates (a retry of an already acknowledged window). */
  readonly duplicates: () => number
  /** Publish attempts, failed ones included. */
  readonly attempts: () => number
  /** While true, every publish fails (NATS away). */
  readonly setFailing: (failing: boolean) => void
}

export const makeMemoryTransport = (): MemoryTransport => {
  const windows: Array<ResultWindow> = []
  const seen = new Set<string>()
  let failing = false
  let duplicates = 0
  let attempts = 0
  return {
    windows,
    duplicates: () => duplicates,
    attempts: () => attempts,
    setFailing: (f) => {
      failing = f
    },
    service: {
      maxBytes: () => Number.POSITIVE_INFINITY,
      publish: (w) =>
        Effect.suspend(() => {
          attempts++
          if (failing) return Effect.fail(new ResultTransportError({ message: "memory transport: failing on purpose" }))
          const id = resultMsgId(w)
          if (seen.has(id)) duplicates++
          else {
            seen.add(id)
            windows.push(w)
          }
          return Effect.void
        })
    }
  }
}
