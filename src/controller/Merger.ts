// The controller's live merge of result windows across nodes (plain synchronous code: it is
// the hot path the controller benchmark measures). Windows are aligned by `seq` (time since
// each node's own start), merged label by label by adding HdrHistograms (never by averaging
// percentiles), and a repeated (testId, nodeId, seq) is dropped. A seq is emitted once, in
// order, when every node still expected for it has delivered, or when `lagMs` has passed
// since its first window arrived; it stays open `horizon` seqs longer so late windows still
// count in the final points, then it is folded into the run totals.
import type * as hdr from "hdr-histogram-js"
import type { WindowPoint } from "../engine/RunAggregation.ts"
import { inRequestOrder, type LabelSummary, type RunSummary } from "../engine/Summary.ts"
import { decodeHistogram, latencyStats, newHistogram, type ResultWindow } from "../protocol/results.ts"

class Acc {
  count = 0
  errors = 0
  bytesIn = 0
  bytesOut = 0
  min = Infinity
  max = -Infinity
  sum = 0
  readonly status: Record<string, number> = {}
  readonly histogram: hdr.Histogram = newHistogram()
  readonly label: string
  constructor(label: string) {
    this.label = label
  }

  addCounts(c: { count: number; errors: number; bytesIn: number; bytesOut: number }, min: number, max: number, sum: number, status: Readonly<Record<string, number>>) {
    this.count += c.count
    this.errors += c.errors
    this.bytesIn += c.bytesIn
    this.bytesOut += c.bytesOut
    if (c.count > 0) {
      if (min < this.min) this.min = min
      if (max > this.max) this.max = max
      this.sum += sum
    }
    for (const k in status) this.status[k] = (this.status[k] ?? 0) + status[k]!
  }

  addAcc(o: Acc) {
    this.addCounts(o, o.min, o.max, o.sum, o.status)
    this.histogram.add(o.histogram)
  }

  latency() {
    const has = this.count > 0
    return latencyStats(this.histogram, { min: has ? this.min : 0, mean: has ? this.sum / this.count : 0, max: has ? this.max : 0 })
  }

  summary(durationMs: number): LabelSummary {
    return {
      label: this.label,
      count: this.count,
      errors: this.errors,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      rps: durationMs > 0 ? this.count / (durationMs / 1000) : 0,
      latencyMs: this.latency(),
      status: Object.fromEntries(Object.entries(this.status).sort(([a], [b]) => a.localeCompare(b)))
    }
  }
}

interface SeqState {
  readonly seq: number
  readonly labels: Map<string, Acc>
  readonly nodes: Set<string>
  readonly firstAt: number
  start: number
  /** Longest window of this seq (a final window may be partial). */
  span: number
  emitted: boolean
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
  readonly points: Array<WindowPoint> = []
  private readonly open = new Map<number, SeqState>()
  private readonly seen = new Map<string, Set<number>>()
  private readonly totals = new Map<string, Acc>()
  private readonly expected = new Set<string>()
  private nextEmit = 0
  private highest = -1
  duplicates = 0
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
    if (w.final) node.finalSeq = w.seq

    const target = w.seq < this.nextEmit - this.horizon ? undefined : this.stateOf(w.seq, now)
    for (const l of w.labels) {
      if (l.label === "*") {
        node.count += l.count
        node.errors += l.errors
      }
      // Beyond the horizon the seq is folded already: the window goes straight to the totals.
      const into = target === undefined ? this.accOf(this.totals, l.label) : this.accOf(target.labels, l.label)
      into.addCounts(l, l.latencyMs.min, l.latencyMs.max, l.latencyMs.mean * l.count, l.status)
      if (l.count > 0) into.histogram.add(decodeHistogram(l.hdr))
    }
    if (target !== undefined) {
      target.nodes.add(w.nodeId)
      target.start = Math.min(target.start, w.start)
      target.span = Math.max(target.span, w.end - w.start)
      if (target.emitted) this.points[w.seq] = pointOf(target)
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
      const p = pointOf(s)
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
    durationMs = Math.max(1, durationMs)
    const all = this.totals.get("*") ?? new Acc("*")
    const labels = inRequestOrder([...this.totals.values()].filter((a) => a.label !== "*"), order)
    return {
      startedAt: Number.isFinite(startedAt) ? startedAt : 0,
      durationMs,
      total: all.summary(durationMs),
      labels: labels.map((l) => l.summary(durationMs)),
      dropped: 0,
      interrupted,
      thresholds: []
    }
  }

  /** Emitted points in seq order (gaps left by seqs nobody delivered are skipped). */
  get series(): Array<WindowPoint> {
    return this.points.filter((p) => p !== undefined)
  }

  private complete(s: SeqState): boolean {
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
      s = { seq, labels: new Map(), nodes: new Set(), firstAt: now, start: Infinity, span: 0, emitted: false }
      this.open.set(seq, s)
    }
    return s
  }

  private accOf(m: Map<string, Acc>, label: string): Acc {
    let a = m.get(label)
    if (a === undefined) {
      a = new Acc(label)
      m.set(label, a)
    }
    return a
  }

  private fold(s: SeqState): void {
    if (!s.emitted) this.points[s.seq] = pointOf(s)
    for (const acc of s.labels.values()) this.accOf(this.totals, acc.label).addAcc(acc)
    this.open.delete(s.seq)
  }
}

const pointOf = (s: SeqState): WindowPoint => {
  const all = s.labels.get("*")
  const lat = all?.latency()
  const labels: Record<string, { count: number; errors: number; p95: number }> = {}
  for (const a of s.labels.values()) {
    if (a.label === "*") continue
    labels[a.label] = { count: a.count, errors: a.errors, p95: a.count > 0 ? Math.min(a.max, Math.max(a.min, a.histogram.getValueAtPercentile(95) / 1000)) : 0 }
  }
  return {
    seq: s.seq,
    start: Number.isFinite(s.start) ? s.start : 0,
    durationMs: s.span > 0 ? s.span : 1000,
    count: all?.count ?? 0,
    errors: all?.errors ?? 0,
    latencyMs: lat ? { p50: lat.p50, p90: lat.p90, p95: lat.p95, p99: lat.p99, max: lat.max } : { p50: 0, p90: 0, p95: 0, p99: 0, max: 0 },
    labels
  }
}
