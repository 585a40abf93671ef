// The heartbeat record of docs/protocol.md, put in KV bucket `grid_nodes` under the node's id
// every heartbeat interval and deleted on clean shutdown.
export type NodeState = "idle" | "busy" | "draining"

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
  /** RFC 3339 */
  readonly startedAt: string
  /** RFC 3339 */
  readonly at: string
}
