// Where control messages come from, as raw bytes with an ack: JetStream's durable consumer in
// the daemon (src/nats/NatsControlSource.ts), a queue in tests. Decoding is the listener's job.
import { Context, Schema, type Stream } from "effect"
import type { Effect } from "effect"

export interface ControlMessage {
  readonly data: Uint8Array
  /** Tells the transport the command was decided; unacked messages are redelivered. */
  readonly ack: Effect.Effect<void>
  /** Tells the transport never to deliver this message again (it cannot be handled). */
  readonly term: Effect.Effect<void>
  readonly redelivered: boolean
  /** 1 on the first delivery; more when earlier deliveries were never acked (a crash). */
  readonly deliveryCount: number
}

export class ControlSourceError extends Schema.TaggedError<ControlSourceError>()("ControlSourceError", {
  message: Schema.String
}) {}

export class ControlSource extends Context.Service<ControlSource, {
  readonly messages: Stream.Stream<ControlMessage, ControlSourceError>
}>()("grid/control/ControlSource") {}
