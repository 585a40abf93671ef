// A run's live figures as Prometheus text, for `grid run --http-addr` and `grid launch
// --http-addr`: fed with the result windows the run's live line is built from (each window once,
// as the merger or NodeWindows took it), never with raw samples. Per label (a request name,
// bounded by the scenario; past `maxLabels` the rest fold into `__other__`) requests and errors
// counters and a latency histogram in seconds with Prometheus' usual buckets, rebuilt from each
// window row's HdrHistogram; for a launch, each node's status as a 0/1 gauge per state (node ids
// are bounded by the plan). Plain synchronous code: nothing here knows HTTP or Effect.
import type * as hdr from "hdr-histogram-js"
import { decodeHistogram, type ResultWindow } from "../protocol/results.ts"
import { NodeStatus } from "./Document.ts"

/** Upper bounds of the latency buckets, in seconds. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const
export const OTHER = "__other__"

interface LabelFigures {
  requests: number
  errors: number
  /** Non-cumulative counts per bucket; the last one is +Inf. */
  readonly buckets: Array<number>
  /** Seconds. */
  sum: number
  observed: number
}

/** The parts of a decoded histogram the bucket walk reads (hdr-histogram-js' JsHistogram). */
interface Indexed {
  readonly countsArrayLength: number
  getCountAtIndex(i: number): number
  valueFromIndex(i: number): number
}

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const num = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(15))))

export class RunMetrics {
  private readonly labels = new Map<string, LabelFigures>()
  private readonly nodes = new Map<string, string>()
  private windows = 0
  private readonly maxLabels: number
  /** What kind of run: `run` (one local node) or `launch` (nodes show their status). */
  readonly kind: "run" | "launch"

  constructor(kind: "run" | "launch", opts: { readonly maxLabels?: number; readonly nodes?: Iterable<string> } = {}) {
    this.kind = kind
    this.maxLabels = opts.maxLabels ?? 100
    for (const n of opts.nodes ?? []) this.nodes.set(n, "sent")
  }

  /** One result window, already deduplicated by the caller. */
  add(w: ResultWindow): void {
    this.windows++
    for (const row of w.labels) {
      if (row.label === "*") continue
      const f = this.figures(row.label)
      f.requests += row.count
      f.errors += row.errors
      if (row.count === 0 || row.hdr === "") continue
      const h = decodeHistogram(row.hdr)
      if (h.totalCount === 0) continue
      this.addHistogram(f, h)
      f.sum += (row.latencyMs.mean * h.totalCount) / 1000
      f.observed += h.totalCount
    }
  }

  /** A node of the launch, `sent` until its status is known. */
  addNode(nodeId: string): void {
    if (!this.nodes.has(nodeId)) this.nodes.set(nodeId, "sent")
  }

  /** A node's status as the launch sees it. */
  nodeStatus(nodeId: string, status: string): void {
    this.nodes.set(nodeId, status)
  }

  /** Requests counted so far, over every label. */
  get requests(): number {
    let n = 0
    for (const f of this.labels.values()) n += f.requests
    return n
  }

  private figures(label: string): LabelFigures {
    const known = this.labels.get(label)
    if (known !== undefined) return known
    // Past the cap every new label is one series: memory and cardinality stay bounded.
    const key = this.labels.size >= this.maxLabels && label !== OTHER ? OTHER : label
    const f = this.labels.get(key) ?? { requests: 0, errors: 0, buckets: new Array(LATENCY_BUCKETS.length + 1).fill(0), sum: 0, observed: 0 }
    this.labels.set(key, f)
    return f
  }

  private addHistogram(f: LabelFigures, h: hdr.Histogram): void {
    const x = h as unknown as Indexed
    let b = 0
    for (let i = 0; i < x.countsArrayLength; i++) {
      const c = x.getCountAtIndex(i)
      if (c === 0) continue
      // Microseconds, against the bucket bounds in seconds.
      const seconds = x.valueFromIndex(i) / 1e6
      while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]!) b++
      f.buckets[b]! += c
    }
  }

  /** The Prometheus text exposition (version 0.0.4) of everything so far. */
  text(): string {
    const out: Array<string> = []
    const head = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    const rows = [...this.labels].sort(([a], [b]) => a.localeCompare(b))
    head("grid_run_requests_total", "counter", "Requests of the run so far, by label (request name), from its result windows")
    for (const [l, f] of rows) out.push(`grid_run_requests_total{label="${escape(l)}"} ${f.requests}`)
    head("grid_run_errors_total", "counter", "Failed requests of the run so far, by label")
    for (const [l, f] of rows) out.push(`grid_run_errors_total{label="${escape(l)}"} ${f.errors}`)
    head("grid_run_request_duration_seconds", "histogram", "Latency of the run's requests, by label")
    for (const [l, f] of rows) {
      const lv = `label="${escape(l)}"`
      let acc = 0
      LATENCY_BUCKETS.forEach((le, i) => {
        acc += f.buckets[i]!
        out.push(`grid_run_request_duration_seconds_bucket{${lv},le="${le}"} ${acc}`)
      })
      out.push(`grid_run_request_duration_seconds_bucket{${lv},le="+Inf"} ${f.observed}`)
      out.push(`grid_run_request_duration_seconds_sum{${lv}} ${num(f.sum)}`)
      out.push(`grid_run_request_duration_seconds_count{${lv}} ${f.observed}`)
    }
    head("grid_run_windows_total", "counter", "Result windows folded into these figures")
    out.push(`grid_run_windows_total ${this.windows}`)
    if (this.kind === "launch") {
      head("grid_launch_node_status", "gauge", "1 for the status each node of the launch has now, 0 for the others")
      for (const [node, status] of [...this.nodes].sort(([a], [b]) => a.localeCompare(b))) {
        for (const s of NodeStatus.literals) out.push(`grid_launch_node_status{node="${escape(node)}",status="${s}"} ${s === status ? 1 : 0}`)
      }
    }
    return out.join("\n") + "\n"
  }
}
