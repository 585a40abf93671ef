// The controller's primitives, the port its flows (launch, stop, report) are built on: list and
// watch the nodes, send a command, follow a test's events and results, read its history.
// Controller.ts implements them over NATS; Launch.ts uses only this file, which keeps the flow
// free of NATS and of the Controller service (no import cycle between the two). Every
// implementation reads the wire through WireReader.ts (MemoryBus.ts is the one tests use).
import { Schema, type Effect, type Stream } from "effect"
import type { DrainCommand, GoCommand, StartCommand, StopCommand } from "../protocol/commands.ts"
import type { ReadEvent } from "../protocol/events.ts"
import type { Heartbeat } from "../protocol/health.ts"
import type { ResultWindow } from "../protocol/results.ts"
import type { StopOrder } from "../protocol/stopOrders.ts"
import type { NodeInfo } from "./Selection.ts"

export class ControllerError extends Schema.TaggedError<ControllerError>()("ControllerError", {
  message: Schema.String
}) {}

/** An event as read from GRID_EVENTS, decoded: a known kind, or one this controller does not know. */
export type WireEvent = ReadEvent

export type NodeChange =
  | { readonly op: "put"; readonly nodeId: string; readonly heartbeat: Heartbeat }
  | { readonly op: "delete"; readonly nodeId: string }

type Outgoing =
  | Omit<StartCommand, "commandId">
  | Omit<StopCommand, "commandId">
  | Omit<GoCommand, "commandId">
  | Omit<DrainCommand, "commandId">

/** The primitives; a Controller is these plus the flows built on them. */
export interface Primitives {
  readonly subjectPrefix: string
  /** TTL of the `grid_nodes` bucket, ms: a node unheard of for longer is lost. */
  readonly bucketTtlMs: number
  /** The live nodes (every key of `grid_nodes`), by id. */
  readonly nodes: Effect.Effect<ReadonlyArray<NodeInfo>, ControllerError>
  /** Current heartbeats first, then every put and delete. Expiry is silent: see `bucketTtlMs`. */
  readonly watchNodes: Stream.Stream<NodeChange, ControllerError>
  /** Publishes a command (JetStream, `Nats-Msg-Id` = commandId); returns the commandId. */
  readonly send: (nodeId: string, command: Outgoing & { readonly commandId?: string }) => Effect.Effect<string, ControllerError>
  /** A test's events from the first one stored, then live. */
  readonly events: (testId: string) => Stream.Stream<WireEvent, ControllerError>
  /** A test's result windows from the first one stored, then live. */
  readonly results: (testId: string) => Stream.Stream<ResultWindow, ControllerError>
  /** Puts (renews) the launch's lease of a test; a bus without leases leaves it out. */
  readonly renewLease?: ((testId: string, leaseSeconds: number) => Effect.Effect<void, ControllerError>) | undefined
  /** Stores an emergency stop order (`grid_stops`), which every matching node obeys, now or
   * when it comes back; a bus without it leaves it out. */
  readonly putStopOrder?: ((order: StopOrder) => Effect.Effect<void, ControllerError>) | undefined
  /** The channel a grid is pinned to by the flag `launch.channel` (KV `grid_flags`), if any; a
   * bus without flags leaves it out. */
  readonly launchChannel?: ((gridId: string) => Effect.Effect<string | undefined, ControllerError>) | undefined
  /** Why JetStream cannot take the grid's writes now (a cluster that lost quorum), or
   * undefined when it can; a bus that cannot lose quorum leaves it out. */
  readonly jetStreamProblem?: Effect.Effect<string | undefined> | undefined
  /** Everything stored for a test, read to the end. */
  readonly history: (testId: string) => Effect.Effect<{ readonly events: ReadonlyArray<WireEvent>; readonly windows: ReadonlyArray<ResultWindow> }, ControllerError>
}
