// The controller's live merge of result windows across nodes (plain synchronous code: it is
// the hot path the controller benchmark measures). Windows are aligned by `seq` (time since
// each node's own start), merged label by label by adding HdrHistograms (never by averaging
// percentiles), and a repeated (testId, nodeId, seq) is dropped. A seq is emitted once, in
// order, when every node still expected for it has delivered, or when `lagMs` has passed
// since its first window arrived; it stays open `horizon` seqs longer so late windows still
// count in the final points, then it is folded into the run totals.
import type { ResultWindow } from "../protocol/results.ts"
import { LabelAcc } from "../report/LabelAcc.ts"
import { pointOf } from "../report/Point.ts"
import { RecorderPool } from "../report/Recorder.ts"
import type { RunSummary, WindowPoint } from "../report/Summary.ts"
import { Totals } from "../report/Totals.ts"

interface SeqState {
  readonly seq: number
  readonly labels: Map<string, LabelAcc>
  readonly nodes: Set<string>
  readonly firstAt: number
  start: number
  /** Longest window of this seq (a final window may be partial). */
  span: number
  emitted: boolean
  /** Emitted, then added to (a late window): its point is refreshed when read, not per window. */
  stale: boolean
}

/** Per node, what its windows said. */
export interface NodeResults {
  readonly nodeId: string
  windows: number
  count: number
  errors: number
  lastSeq: number
  /** Seq of the node's `final` window, once seen. */
  finalSeq: number | undefined
  firstStart: number | undefined
  lastEnd: number | undefined
}

export interface MergerOptions {
  /** Emit a seq this long after its first window even if some node has not delivered. */
  readonly lagMs?: number
  /** Seqs kept open after emission for late windows. */
  readonly horizon?: number
}

export class WindowMerger {
  readonly nodes = new Map<string, NodeResults>()
  /** Emitted seqs, by seq (points are refreshed while their seq is within the horizon). */
  private readonly points: Array<WindowPoint> = []
  private readonly open = new Map<number, SeqState>()
  private readonly seen = new Map<string, Set<number>>()
  private readonly totals = new Totals()
  /** Recorders of folded seqs, reused by the next ones. */
  private readonly pool = new RecorderPool()
  private readonly expected = new Set<string>()
  private nextEmit = 0
  private highest = -1
  duplicates = 0
  /** Nodes whose final window was seen. */
  private finals = 0
  private readonly lagMs: number
  private readonly horizon: number

  constructor(nodeIds: Iterable<string>, opts: MergerOptions = {}) {
    this.lagMs = opts.lagMs ?? 1500
    this.horizon = opts.horizon ?? 10
    for (const id of nodeIds) this.addNode(id)
  }

  addNode(nodeId: string): void {
    if (this.nodes.has(nodeId)) return
    this.nodes.set(nodeId, { nodeId, windows: 0, count: 0, errors: 0, lastSeq: -1, finalSeq: undefined, firstStart: undefined, lastEnd: undefined })
    this.expected.add(nodeId)
  }

  /** A node that will deliver no more windows (lost, failed, stopped): no seq waits for it. */
  nodeGone(nodeId: string): void {
    this.expected.delete(nodeId)
  }

  /** Adds one window; false for a repeated (nodeId, seq) or a window of another node set. */
  add(w: ResultWindow, now: number): boolean {
    let seen = this.seen.get(w.nodeId)
    if (seen === undefined) {
      this.addNode(w.nodeId)
      seen = new Set()
      this.seen.set(w.nodeId, seen)
    }
    if (seen.has(w.seq)) {
      this.duplicates++
      return false
    }
    seen.add(w.seq)
    const node = this.nodes.get(w.nodeId)!
    node.windows++
    node.lastSeq = Math.max(node.lastSeq, w.seq)
    if (w.seq === 0 || node.firstStart === undefined) node.firstStart = w.seq === 0 ? w.start : Math.min(node.firstStart ?? w.start, w.start)
    node.lastEnd = Math.max(node.lastEnd ?? w.end, w.end)
    if (w.final) {
      if (node.finalSeq === undefined) this.finals++
      node.finalSeq = w.seq
    }

    const target = w.seq < this.nextEmit - this.horizon ? undefined : this.stateOf(w.seq, now)
    for (const l of w.labels) {
      if (l.label === "*") {
        node.count += l.count
        node.errors += l.errors
      }
      // Beyond the horizon the seq is folded already: the window goes straight to the totals.
      if (target === undefined) this.totals.addRow(l)
      else this.accOf(target.labels, l.label).addRow(l)
    }
    if (target !== undefined) {
      target.nodes.add(w.nodeId)
      target.start = Math.min(target.start, w.start)
      target.span = Math.max(target.span, w.end - w.start)
      // Recomputing the point is a dozen percentile walks: with a thousand nodes a late second
      // gets hundreds of windows, so it is done once, when the point is read or folded.
      if (target.emitted) target.stale = true
    } else if (this.points[w.seq] !== undefined) {
      const p = this.points[w.seq]!
      const all = w.labels.find((l) => l.label === "*")
      this.points[w.seq] = { ...p, count: p.count + (all?.count ?? 0), errors: p.errors + (all?.errors ?? 0) }
    }
    if (w.seq > this.highest) this.highest = w.seq
    return true
  }

  /** Emits the seqs that are complete or waited long enough, in order. */
  tick(now: number): Array<WindowPoint> {
    const out: Array<WindowPoint> = []
    for (;;) {
      const s = this.open.get(this.nextEmit)
      if (s === undefined) {
        // Each node delivers in seq order: a missing seq below the highest one seen was
        // delivered by nobody (nodes that had not started yet), so it is skipped.
        if (this.nextEmit >= this.highest) break
        this.nextEmit++
        continue
      }
      if (!this.complete(s) && now - s.firstAt < this.lagMs) break
      s.emitted = true
      const p = this.pointOf(s)
      this.points[s.seq] = p
      out.push(p)
      this.nextEmit++
    }
    for (const [seq, s] of this.open) if (s.emitted && seq < this.nextEmit - this.horizon) this.fold(s)
    return out
  }

  /** Whether every expected node has ended its windows (its final seen, or it is gone). */
  get allFinal(): boolean {
    for (const id of this.expected) if (this.nodes.get(id)!.finalSeq === undefined) return false
    return true
  }

  /** Emits and folds everything left; returns the last points emitted. */
  flush(): Array<WindowPoint> {
    const out = this.tick(Number.POSITIVE_INFINITY)
    for (const s of [...this.open.values()]) this.fold(s)
    return out
  }

  /** The run summary over everything added so far (call after `flush`); rows in `order`. */
  summary(interrupted: boolean, order: ReadonlyArray<string> = []): RunSummary {
    let startedAt = Infinity
    let durationMs = 0
    for (const n of this.nodes.values()) {
      if (n.firstStart === undefined || n.lastEnd === undefined) continue
      startedAt = Math.min(startedAt, n.firstStart)
      durationMs = Math.max(durationMs, n.lastEnd - n.firstStart)
    }
    return this.totals.summary({ startedAt: Number.isFinite(startedAt) ? startedAt : 0, durationMs: Math.max(1, durationMs), order, interrupted })
  }

  /** Emitted points in seq order (gaps left by seqs nobody delivered are skipped). */
  get series(): Array<WindowPoint> {
    for (const s of this.open.values()) this.refresh(s)
    return this.points.filter((p) => p !== undefined)
  }

  private complete(s: SeqState): boolean {
    // Called on every window: with a thousand nodes, count before walking them. Fewer windows
    // than expected nodes, even counting every node that sent its final, cannot be complete.
    if (s.nodes.size + this.finals < this.expected.size) return false
    for (const id of this.expected) {
      if (s.nodes.has(id)) continue
      const f = this.nodes.get(id)!.finalSeq
      if (f === undefined || f >= s.seq) return false
    }
    return true
  }

  private stateOf(seq: number, now: number): SeqState {
    let s = this.open.get(seq)
    if (s === undefined) {
      s = { seq, labels: new Map(), nodes: new Set(), firstAt: now, start: Infinity, span: 0, emitted: false, stale: false }
      this.open.set(seq, s)
    }
    return s
  }

  private accOf(m: Map<string, LabelAcc>, label: string): LabelAcc {
    let a = m.get(label)
    if (a === undefined) {
      a = new LabelAcc(label, this.pool.take())
      m.set(label, a)
    }
    return a
  }

  private refresh(s: SeqState): void {
    if (!s.stale) return
    s.stale = false
    this.points[s.seq] = this.pointOf(s)
  }

  private fold(s: SeqState): void {
    if (!s.emitted) this.points[s.seq] = this.pointOf(s)
    else this.refresh(s)
    for (const acc of s.labels.values()) this.totals.of(acc.label).merge(acc)
    for (const acc of s.labels.values()) this.pool.give(acc.rec)
    this.open.delete(s.seq)
  }

  private pointOf(s: SeqState): WindowPoint {
    return pointOf(s.seq, Number.isFinite(s.start) ? s.start : 0, s.span > 0 ? s.span : 1000, s.labels.values())
  }
}
