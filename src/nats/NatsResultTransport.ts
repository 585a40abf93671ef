// ResultTransport over JetStream: a window goes to `grid.results.<testId>.<nodeId>` (stream
// GRID_RESULTS) with `Nats-Msg-Id: <testId>.<nodeId>.<seq>`, and the call waits for the ack.
// Ordering, retries and spilling while NATS is away are the ingest Publisher's job.
import { Effect, Layer } from "effect"
import { ResultTransport, ResultTransportError } from "../ingest/ResultTransport.ts"
import { encodeResultWindow, resultMsgId } from "../protocol/results.ts"
import type { Subjects } from "../protocol/names.ts"
import { describe, NatsConnection } from "./NatsConnection.ts"
import { isPermanent } from "./Outbox.ts"

/** Room kept under the server's max_payload for the message's headers (Nats-Msg-Id). */
const HEADER_ROOM = 512

export const natsResultTransportLayer = (subjects: Subjects) =>
  Layer.effect(
    ResultTransport,
    Effect.map(NatsConnection, ({ js, nc }) =>
      ResultTransport.of({
        maxBytes: () => Math.max(0, (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM),
        publish: (w) =>
          Effect.tryPromise({
            try: () => js.publish(subjects.results(w.testId, w.nodeId), encodeResultWindow(w), { msgID: resultMsgId(w), timeout: 5_000 }),
            catch: (e) => new ResultTransportError({ message: describe(e), permanent: isPermanent(e) })
          }).pipe(Effect.asVoid)
      }))
  )
