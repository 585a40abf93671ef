// The state of one launch, replaced whole on every change (it lives in a SubscriptionRef in
// Launch.ts), and the pure transitions the launch's followers apply to it.
import type { Share } from "./Split.ts"
import { endedStatuses, type NodeStatus } from "./Report.ts"

export interface NodeState {
  readonly nodeId: string
  readonly share: Share
  readonly status: NodeStatus
  readonly error?: string | undefined
  readonly summary?: unknown
  readonly lastSeen: number
  /** Heartbeats in a row, since the node accepted, that do not list the test. */
  readonly unlisted: number
  /** Lost, failed or refused: it will deliver no more windows. */
  readonly gone?: boolean
}

/** Everything the launch knows, replaced whole on every change. */
export interface LaunchState {
  readonly nodes: ReadonlyMap<string, NodeState>
  /** Why the launch fails; non-empty means it does. */
  readonly problems: ReadonlyArray<string>
  /** Nodes lost while their loss is tolerated. */
  readonly tolerated: ReadonlyArray<string>
  /** The launch stops its nodes: a node ending now is no problem of its own. */
  readonly stopping: boolean
  /** Something failed the launch: stop the nodes and conclude. */
  readonly mustAbort: boolean
  /** The merger has every expected node's final window. */
  readonly allFinal: boolean
}

export const isEnded = (n: NodeState) => endedStatuses.has(n.status)
export const every = (s: LaunchState, f: (n: NodeState) => boolean) => [...s.nodes.values()].every(f)

export const withNode = (s: LaunchState, n: NodeState, patch: Partial<NodeState>): LaunchState => ({
  ...s,
  nodes: new Map(s.nodes).set(n.nodeId, { ...n, ...patch })
})
/** A new status (and its error) unless the node has it already; `extra` in any case. */
export const setStatus = (s: LaunchState, n: NodeState, status: NodeStatus, error?: string, extra: Partial<NodeState> = {}): LaunchState =>
  withNode(s, n, n.status === status ? extra : { ...extra, status, ...(error !== undefined ? { error } : {}) })
/** A node that ended badly: the launch fails, unless its loss is tolerated or the launch stops anyway. */
export const lose = (tolerate: boolean) => (s: LaunchState, n: NodeState, status: NodeStatus, why: string, extra: Partial<NodeState> = {}): LaunchState => {
  const next = setStatus(s, n, status, why, { ...extra, gone: true })
  if (s.stopping) return next
  return tolerate
    ? { ...next, tolerated: [...next.tolerated, n.nodeId] }
    : { ...next, problems: [...next.problems, `node ${n.nodeId} ${why}`], mustAbort: true }
}
