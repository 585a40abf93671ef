// Identifiers and NATS names of docs/protocol.md: ids become subject tokens and path
// segments, so they are validated here once, and every subject is built here and nowhere else.
import { Schema } from "effect"

const idPattern = /^[A-Za-z0-9_-]{1,64}$/

/** `nodeId`, `gridId`, `testId`: 1-64 chars of `[A-Za-z0-9_-]`. */
export const Id = Schema.String.check(
  Schema.isPattern(idPattern, { message: "must be 1-64 characters of A-Z a-z 0-9 _ -" })
)
export const isId = (s: unknown): s is string => typeof s === "string" && idPattern.test(s)

/** Turns any string (a hostname, say) into a valid id. */
export const sanitizeId = (raw: string): string => {
  const cleaned = raw.replace(/[^A-Za-z0-9_-]/g, "-").replace(/^-+|-+$/g, "").slice(0, 64)
  return cleaned.length > 0 ? cleaned : "node"
}

/** `commandId`: any 1-128 char string, the dedup key. */
export const CommandId = Schema.String.check(
  Schema.isMinLength(1),
  Schema.isMaxLength(128)
)

/** JetStream asset names. The default prefix gets the protocol's names; another prefix gets
 * its own assets (suffixed), so two grids can share one NATS server without overlapping. */
export const assets = (prefix: string) => {
  const suffix = prefix === "grid" ? "" : `_${prefix.replace(/[^A-Za-z0-9_-]/g, "_")}`
  return {
    control: `GRID_CONTROL${suffix.toUpperCase()}`,
    events: `GRID_EVENTS${suffix.toUpperCase()}`,
    results: `GRID_RESULTS${suffix.toUpperCase()}`,
    nodes: `grid_nodes${suffix}`,
    /** Launch leases, a key per test renewed by its controller (docs/protocol.md "Leases"). */
    leases: `grid_leases${suffix}`,
    /** Emergency stop orders (`grid stop --all`), kept so a node reconnecting later obeys them. */
    stops: `grid_stops${suffix}`,
    /** Live flags by scope (`grid flags`), watched by every node (docs/protocol.md "Flags"). */
    flags: `grid_flags${suffix}`,
    /** Object store of the files nodes keep from tests (screenshots; docs/protocol.md "Artifacts"). */
    artifacts: `grid_artifacts${suffix}`
  }
}
export type Assets = ReturnType<typeof assets>

/** Every subject of the protocol, below a configurable prefix (`grid` by default). */
export const subjects = (prefix: string) => ({
  controlAll: `${prefix}.control.>`,
  eventsAll: `${prefix}.events.>`,
  resultsAll: `${prefix}.results.>`,
  control: (nodeId: string) => `${prefix}.control.node.${nodeId}`,
  /** Events of a test; `_` stands for a command whose testId could not be read. */
  events: (testId: string | undefined, nodeId: string) => `${prefix}.events.${testId ?? "_"}.${nodeId}`,
  results: (testId: string, nodeId: string) => `${prefix}.results.${testId}.${nodeId}`
})
export type Subjects = ReturnType<typeof subjects>

/** Where a node's replies come (its JetStream pulls, acks, KV reads): its own prefix, so NATS
 * permissions can let a node's credentials subscribe to its replies and nothing else. */
export const nodeInboxPrefix = (nodeId: string) => `_GRID_INBOX.${nodeId}`

/** The durable consumer through which a node reads its commands. */
export const consumerName = (nodeId: string) => `node-${nodeId}`
