// Emergency stop orders of docs/protocol.md ("Emergency stop"): what `grid stop --all` puts
// in KV `grid_stops` (key = orderId) and every node reads at start, after every reconnect and
// live. Absent filters match every node; unknown fields are ignored.
import { Result, Schema } from "effect"
import { CommandId, Id } from "./names.ts"

const Time = Schema.String.check(
  Schema.makeFilter((s: string) => !Number.isNaN(Date.parse(s)) || "must be an RFC 3339 time")
)

export const StopOrder = Schema.Struct({
  orderId: CommandId,
  /** When it was given (the controller's clock): tests taken before it (+ CLOCK_SLACK_MS) stop. */
  at: Time,
  reason: Schema.optional(Schema.String.check(Schema.isMaxLength(200))),
  gridId: Schema.optional(Id),
  channel: Schema.optional(Schema.String),
  nodeId: Schema.optional(Id)
})
export type StopOrder = typeof StopOrder.Type

/** The clocks of controller and node may differ: a test taken up to this long after the order
 * (by the node's clock) is stopped too. Err on the side of stopping. */
export const CLOCK_SLACK_MS = 5_000

/** The reason a stopped event gives when the order names none. */
export const EMERGENCY_REASON = "emergency stop"

const decode = Schema.decodeUnknownResult(Schema.fromJsonString(StopOrder))

/** An order as read from the wire, or one line saying why it is not one. */
export const readStopOrder = (text: string): Result.Result<StopOrder, string> =>
  Result.mapError(decode(text), (e) => `not a stop order: ${String(e).slice(0, 200)}`)

/** Whether an order is for this node. */
export const orderMatches = (order: StopOrder, node: { readonly nodeId: string; readonly gridId: string; readonly channel: string }): boolean =>
  (order.nodeId === undefined || order.nodeId === node.nodeId) &&
  (order.gridId === undefined || order.gridId === node.gridId) &&
  (order.channel === undefined || order.channel === node.channel)
