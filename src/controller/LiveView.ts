// What a launch's live view is told, and when: merged seconds as soon as they are complete
// (not on the next tick), node status changes in the order a reader expects them, and a line
// when a running node's windows stop coming. A node's terminal event and its last windows travel
// on two streams (events, results) and the event can arrive first: its `finished` line is held
// until its final window has been shown (at most `holdMs`), so no second of the test is printed
// after the node said it ended, and the window lines count it as running until then.
import type { WindowPoint } from "../report/Summary.ts"
import type { NodeStatus } from "./Report.ts"

export interface NodeView {
  readonly nodeId: string
  readonly status: NodeStatus
  readonly lastSeq: number
  readonly error?: string | undefined
}

export type LaunchUpdate =
  | { readonly type: "window"; readonly point: WindowPoint; readonly total: { readonly count: number; readonly errors: number }; readonly nodes: ReadonlyArray<NodeView> }
  | { readonly type: "node"; readonly nodeId: string; readonly status: NodeStatus; readonly error?: string | undefined }
  | { readonly type: "phase"; readonly message: string }

export interface LiveViewOptions {
  /** Longest a terminal status line waits for the node's final window. Default 1500 ms. */
  readonly holdMs?: number | undefined
  /** A running node with no window for this long is said to be late. Default 4000 ms. */
  readonly lateAfterMs?: number | undefined
}

interface Shown {
  status: NodeStatus
  error?: string | undefined
  /** When the node last delivered a window (or started running). */
  lastWindowAt: number
  lastSeq: number
  finalSeq: number | undefined
  /** Since when it has been said to be late. */
  lateSince: number | undefined
  held: { readonly status: NodeStatus; readonly error?: string | undefined; readonly at: number } | undefined
}

const terminal: ReadonlySet<NodeStatus> = new Set(["finished", "stopped", "failed"])

export class LiveView {
  private readonly nodes = new Map<string, Shown>()
  private readonly total = { count: 0, errors: 0 }
  private lastEmitted = -1
  /** A final window arrived since the held lines were last looked at. */
  private finalSince = false
  private now = 0
  private readonly holdMs: number
  private readonly lateAfterMs: number
  private readonly update: (u: LaunchUpdate) => void

  constructor(nodeIds: Iterable<string>, update: (u: LaunchUpdate) => void, now: number, opts: LiveViewOptions = {}) {
    this.update = update
    this.now = now
    this.holdMs = opts.holdMs ?? 1500
    this.lateAfterMs = opts.lateAfterMs ?? 4000
    for (const nodeId of nodeIds) {
      this.nodes.set(nodeId, { status: "sent", lastWindowAt: now, lastSeq: -1, finalSeq: undefined, lateSince: undefined, held: undefined })
    }
  }

  /** A node's status changed (as the launch sees it). */
  status(nodeId: string, status: NodeStatus, error?: string): void {
    const n = this.nodes.get(nodeId)
    if (n === undefined) return
    if (status === "running" && n.status !== "running") n.lastWindowAt = this.now
    // Its last windows may still be on their way: say it ended once they have been shown.
    if (terminal.has(status) && n.status === "running" && !this.windowsDone(n)) {
      n.held = { status, error, at: this.now }
      return
    }
    this.show(nodeId, n, status, error)
  }

  /** A window of `nodeId` was merged at `now`. */
  window(nodeId: string, seq: number, final: boolean, now: number): void {
    this.now = now
    const n = this.nodes.get(nodeId)
    if (n === undefined) return
    if (n.lateSince !== undefined) {
      this.update({ type: "phase", message: `node ${nodeId}: its windows are arriving again` })
      n.lateSince = undefined
    }
    n.lastWindowAt = now
    n.lastSeq = Math.max(n.lastSeq, seq)
    if (final) {
      n.finalSeq = seq
      this.finalSince = true
    }
  }

  /** Merged seconds emitted; then the held lines whose windows have all been shown. */
  points(points: ReadonlyArray<WindowPoint>): void {
    for (const point of points) {
      this.total.count += point.count
      this.total.errors += point.errors
      this.lastEmitted = Math.max(this.lastEmitted, point.seq)
      this.update({ type: "window", point, total: { ...this.total }, nodes: this.view() })
    }
    // Called after every window: the held lines (a walk over every node) can only be released
    // by a new second or a final window; waiting out `holdMs` is `tick`'s.
    if (points.length === 0 && !this.finalSince) return
    this.finalSince = false
    this.release(false)
  }

  /** The clock moved: release held lines that waited long enough, say which nodes are late. */
  tick(now: number): void {
    this.now = now
    this.release(false)
    for (const [nodeId, n] of this.nodes) {
      if (n.status !== "running" || n.held !== undefined || n.lateSince !== undefined) continue
      if (now - n.lastWindowAt >= this.lateAfterMs) {
        n.lateSince = now
        this.update({ type: "phase", message: `node ${nodeId}: no window for ${((now - n.lastWindowAt) / 1000).toFixed(1)} s (its results are late; the merged seconds wait ${this.holdMs / 1000} s for it at most)` })
      }
    }
  }

  /** The launch is concluding: every held line now. */
  flush(): void {
    this.release(true)
  }

  view(): Array<NodeView> {
    return [...this.nodes].map(([nodeId, n]) => ({ nodeId, status: n.status, lastSeq: n.lastSeq, error: n.error }))
  }

  private windowsDone(n: Shown): boolean {
    return n.finalSeq !== undefined && this.lastEmitted >= n.finalSeq
  }

  private release(all: boolean): void {
    for (const [nodeId, n] of this.nodes) {
      const h = n.held
      if (h === undefined) continue
      if (all || this.windowsDone(n) || this.now - h.at >= this.holdMs) {
        n.held = undefined
        this.show(nodeId, n, h.status, h.error)
      }
    }
  }

  private show(nodeId: string, n: Shown, status: NodeStatus, error: string | undefined): void {
    if (n.status === status) return
    n.status = status
    if (error !== undefined) n.error = error
    this.update({ type: "node", nodeId, status, error })
  }
}
