// The heartbeat record of docs/protocol.md, put in KV bucket `grid_nodes` under the node's id
// every heartbeat interval and deleted on clean shutdown.
export type NodeState = "idle" | "busy" | "draining"

/** How the delivery of the node's events is going: what waits, for how long, what was dropped. */
export interface DeliveryStats {
  /** Events queued and not yet acknowledged by JetStream. */
  readonly depth: number
  /** Age of the oldest of them, 0 when none waits. */
  readonly oldestAgeMs: number
  /** Events dropped because NATS refused them for good (since the node started). */
  readonly dropped: number
}

export interface Heartbeat {
  readonly nodeId: string
  readonly gridId: string
  readonly version: string
  readonly channel: string
  readonly labels: Readonly<Record<string, string>>
  readonly state: NodeState
  readonly tests: ReadonlyArray<string>
  readonly capacity: number
  readonly tools: ReadonlyArray<string>
  readonly runners: ReadonlyArray<string>
  readonly cpu: { readonly cores: number; readonly load1: number; readonly usagePct: number }
  readonly memory: { readonly totalMb: number; readonly freeMb: number; readonly rssMb: number }
  readonly disk: { readonly workDir: string; readonly freeMb: number }
  /** False while something keeps the node from doing its job (e.g. events stuck unpublished).
   * Optional, like the two fields below: nodes older than this field do not send it. */
  readonly healthy?: boolean
  /** Why it is not healthy, one short sentence each; empty when healthy. */
  readonly problems?: ReadonlyArray<string>
  readonly outbox?: { readonly events: DeliveryStats }
  /** RFC 3339 */
  readonly startedAt: string
  /** RFC 3339 */
  readonly at: string
}
