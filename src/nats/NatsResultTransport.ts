// ResultTransport over JetStream: a window goes to `grid.results.<testId>.<nodeId>` (stream
// GRID_RESULTS) with `Nats-Msg-Id: <testId>.<nodeId>.<seq>`, and the call waits for the ack.
// Ordering, retries and spilling while NATS is away are the ingest Publisher's job.
import { Effect, Layer } from "effect"
import { ResultTransport, ResultTransportError } from "../ingest/ResultTransport.ts"
import { encodeResultWindow, resultMsgId } from "../protocol/results.ts"
import type { Subjects } from "../protocol/names.ts"
import { describe, maxPublishBytes, NatsConnection } from "./NatsConnection.ts"
import { isPermanent } from "./Outbox.ts"

export const natsResultTransportLayer = (subjects: Subjects) =>
  Layer.effect(
    ResultTransport,
    Effect.map(NatsConnection, ({ js, nc }) =>
      ResultTransport.of({
        maxBytes: () => maxPublishBytes(nc),
        publish: (w) =>
          Effect.tryPromise({
            try: () => js.publish(subjects.results(w.testId, w.nodeId), encodeResultWindow(w), { msgID: resultMsgId(w), timeout: 5_000 }),
            catch: (e) => new ResultTransportError({ message: describe(e), permanent: isPermanent(e) })
          }).pipe(Effect.asVoid)
      }))
  )
