// Where a live dashboard's figures come from: `grid run`'s NodeWindows (the windows its node
// published, the ones its summary is read from) and a launch's merged seconds plus each node's
// windows (the ones the controller took, once per node and seq). Both keep the summary so far
// in the one accumulator (Totals: histograms add, percentiles are never averaged) and evaluate
// the thresholds on it, so the page shows their live state.
import type { LaunchUpdate } from "../controller/LiveView.ts"
import type { Share } from "../controller/Split.ts"
import type { EngineStatus } from "../engine/LoadModels.ts"
import { evaluateThresholds, type Threshold } from "../engine/Thresholds.ts"
import type { ResultWindow } from "../protocol/results.ts"
import type { NodeWindows } from "../report/NodeWindows.ts"
import type { RunSummary, WindowPoint } from "../report/Summary.ts"
import { Totals } from "../report/Totals.ts"
import type { FeedSource } from "./Feed.ts"
import type { NodeRow } from "./Model.ts"

/** Start and length of the test so far: from the first point to the end of the newest. */
const span = (points: ReadonlyArray<WindowPoint>, fallbackStart: number, firstStart?: number) => {
  const startedAt = firstStart ?? points[0]?.start ?? fallbackStart
  const last = points.at(-1)
  return { startedAt, durationMs: Math.max(1, last === undefined ? 1 : last.start + last.durationMs - startedAt) }
}

const withThresholds = (base: RunSummary, thresholds: ReadonlyArray<Threshold>): RunSummary => ({
  ...base,
  thresholds: evaluateThresholds(thresholds, base)
})

/** `grid run`: the node's windows as NodeWindows folded them; the load from the engine's status. */
export const runSource = (o: {
  readonly view: NodeWindows
  readonly status: EngineStatus
  readonly open: boolean
  readonly order: ReadonlyArray<string>
  readonly thresholds: ReadonlyArray<Threshold>
  readonly startedAt: number
}): FeedSource => {
  let arrivals = { n: 0, at: o.startedAt }
  return {
    points: () => o.view.points,
    state: () => {
      const s = span(o.view.points, o.startedAt, o.view.firstStart)
      const base = o.view.totals.summary({ ...s, order: o.order, dropped: o.status.dropped, interrupted: false })
      return { summary: withThresholds(base, o.thresholds), nodes: [], problems: [] }
    },
    load: (now) => {
      if (!o.open) return o.status.users
      const rate = (o.status.arrivals - arrivals.n) / Math.max(0.001, (now - arrivals.at) / 1000)
      arrivals = { n: o.status.arrivals, at: now }
      return Math.round(rate)
    }
  }
}

interface NodeFigures {
  status: string
  share: string
  users: number | undefined
  rate: number | undefined
  count: number
  errors: number
  windows: number
  lastSeq: number
  rps: number
  error?: string | undefined
}

/** A launch: fed by its live view (merged seconds, node statuses) and its windows. */
export class LaunchSource implements FeedSource {
  private readonly merged: Array<WindowPoint> = []
  private readonly totals = new Totals()
  private readonly nodes = new Map<string, NodeFigures>()
  private readonly problems: Array<string> = []
  private readonly order: ReadonlyArray<string>
  private readonly thresholds: ReadonlyArray<Threshold>
  private readonly loadKind: "users" | "arrivals" | undefined
  private readonly startedAt: number

  constructor(o: { readonly order: ReadonlyArray<string>; readonly thresholds: ReadonlyArray<Threshold>; readonly load?: "users" | "arrivals" | undefined; readonly startedAt: number }) {
    this.order = o.order
    this.thresholds = o.thresholds
    this.loadKind = o.load
    this.startedAt = o.startedAt
  }

  private node(nodeId: string): NodeFigures {
    let n = this.nodes.get(nodeId)
    if (n === undefined) {
      n = { status: "sent", share: "", users: undefined, rate: undefined, count: 0, errors: 0, windows: 0, lastSeq: -1, rps: 0 }
      this.nodes.set(nodeId, n)
    }
    return n
  }

  /** The nodes chosen and their share of the load. */
  shares(shares: ReadonlyArray<Share>): void {
    for (const s of shares) {
      const n = this.node(s.nodeId)
      n.users = s.users
      n.rate = s.rate
      n.share = s.users !== undefined ? `${s.users} users` : s.rate !== undefined ? `${+s.rate.toFixed(3)}/s` : "stages"
    }
  }

  /** A window the launch took (each node and seq once). */
  window(w: ResultWindow): void {
    const n = this.node(w.nodeId)
    n.windows++
    n.lastSeq = Math.max(n.lastSeq, w.seq)
    for (const row of w.labels) {
      this.totals.addRow(row)
      if (row.label !== "*") continue
      n.count += row.count
      n.errors += row.errors
      n.rps = row.count / Math.max(0.001, (w.end - w.start) / 1000)
    }
  }

  /** The launch's live view: merged seconds, node statuses. */
  update(u: LaunchUpdate): void {
    if (u.type === "window") this.merged.push(u.point)
    else if (u.type === "node") {
      const n = this.node(u.nodeId)
      n.status = u.status
      if (u.error !== undefined) {
        n.error = u.error
        this.problems.push(`node ${u.nodeId} ${u.status}: ${u.error}`)
      }
    }
  }

  points = (): ReadonlyArray<WindowPoint> => this.merged

  state = (): { summary: RunSummary; nodes: Array<NodeRow>; problems: Array<string> } => {
    const base = this.totals.summary({ ...span(this.merged, this.startedAt), order: this.order })
    const newest = this.merged.at(-1)?.seq ?? -1
    const nodes = [...this.nodes].map(([nodeId, n]): NodeRow => ({
      nodeId,
      status: n.status,
      share: n.share,
      count: n.count,
      errors: n.errors,
      rps: n.status === "running" ? n.rps : 0,
      windows: n.windows,
      late: n.status === "running" && n.lastSeq >= 0 ? Math.max(0, newest - n.lastSeq) : 0,
      error: n.error
    }))
    return { summary: withThresholds(base, this.thresholds), nodes, problems: [...this.problems] }
  }

  /** Planned users (or arrivals/s) of the nodes running now. */
  load = (): number | undefined => {
    if (this.loadKind === undefined) return undefined
    let sum = 0
    for (const n of this.nodes.values()) if (n.status === "running") sum += (this.loadKind === "users" ? n.users : n.rate) ?? 0
    return sum
  }
}
