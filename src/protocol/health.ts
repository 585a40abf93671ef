// The heartbeat record of docs/protocol.md, put in KV bucket `grid_nodes` under the node's id
// every heartbeat interval and deleted on clean shutdown. The Schema is what readers decode
// with; unknown fields are dropped, and the fields older nodes do not send are optional.
import { Result, Schema } from "effect"
import { clip, ECHO_CHARS } from "./bounded.ts"

export const NodeState = Schema.Literals(["idle", "busy", "draining"])
export type NodeState = typeof NodeState.Type

/** How the delivery of the node's events is going: what waits, for how long, what was dropped. */
export const DeliveryStats = Schema.Struct({
  /** Events queued and not yet acknowledged by JetStream. */
  depth: Schema.Number,
  /** Age of the oldest of them, 0 when none waits. */
  oldestAgeMs: Schema.Number,
  /** Events dropped because NATS refused them for good (since the node started). */
  dropped: Schema.Number
})
export type DeliveryStats = typeof DeliveryStats.Type

export const Heartbeat = Schema.Struct({
  nodeId: Schema.String,
  gridId: Schema.String,
  version: Schema.String,
  channel: Schema.String,
  labels: Schema.Record(Schema.String, Schema.String),
  state: NodeState,
  tests: Schema.Array(Schema.String),
  capacity: Schema.Number,
  tools: Schema.Array(Schema.String),
  runners: Schema.Array(Schema.String),
  cpu: Schema.Struct({ cores: Schema.Number, load1: Schema.Number, usagePct: Schema.Number }),
  memory: Schema.Struct({ totalMb: Schema.Number, freeMb: Schema.Number, rssMb: Schema.Number }),
  disk: Schema.Struct({ workDir: Schema.String, freeMb: Schema.Number }),
  /** False while something keeps the node from doing its job (e.g. events stuck unpublished).
   * Optional, like the two fields below: nodes older than this field do not send it; readers
   * take a missing one as true. */
  healthy: Schema.optionalKey(Schema.Boolean),
  /** Why it is not healthy, one short sentence each; empty when healthy. */
  problems: Schema.optionalKey(Schema.Array(Schema.String)),
  outbox: Schema.optionalKey(Schema.Struct({ events: DeliveryStats })),
  /** The highest `grid_flags` revision the node has applied (nodes older than flags omit it). */
  flagsRevision: Schema.optionalKey(Schema.Number),
  /** False while the flag `accept` is false (the node answers starts with `paused`); absent: true. */
  accepting: Schema.optionalKey(Schema.Boolean),
  /** The node's own flag values (its --capacity, --default-runner, --tool-path), under the
   * bucket's: what `grid flags effective` resolves the node's flags with. */
  ownFlags: Schema.optionalKey(Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number, Schema.Boolean]))),
  /** RFC 3339 */
  startedAt: Schema.String,
  /** RFC 3339 */
  at: Schema.String
})
export type Heartbeat = typeof Heartbeat.Type

const decodeHeartbeatJson = Schema.decodeUnknownResult(Schema.fromJsonString(Heartbeat))

/** A heartbeat's JSON text read through the schema; the failure is one bounded line. */
export const readHeartbeat = (text: string): Result.Result<Heartbeat, string> =>
  Result.mapError(decodeHeartbeatJson(text), (e) => `not a heartbeat (${clip(String(e), ECHO_CHARS)}): ${clip(text, ECHO_CHARS)}`)
