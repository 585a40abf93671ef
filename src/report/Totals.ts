// A run's totals: one accumulator per label (label `*` for every sample), fed with whole
// accumulators (ingestion's closed windows) or with result-window rows (the controller), and
// turned into the one RunSummary. Exact: histograms add, nothing is averaged.
import type { LabelWindow, Summary } from "../protocol/results.ts"
import { LabelAcc } from "./LabelAcc.ts"
import { countsInTotal } from "./Phase.ts"
import { emptyLabel, emptyLatency, inRequestOrder, type RunSummary } from "./Summary.ts"

export class Totals {
  readonly labels = new Map<string, LabelAcc>()
  /** Windows added. */
  windows = 0

  of(label: string): LabelAcc {
    let t = this.labels.get(label)
    if (t === undefined) {
      t = new LabelAcc(label)
      this.labels.set(label, t)
    }
    return t
  }

  /** Adds a closed window's accumulators (the recorders stay the caller's). */
  addWindow(w: { readonly labels: ReadonlyArray<LabelAcc> }): void {
    this.windows++
    for (const acc of w.labels) this.of(acc.label).merge(acc)
  }

  addRow(l: LabelWindow): void {
    this.of(l.label).addRow(l)
  }

  get all(): LabelAcc | undefined {
    return this.labels.get("*")
  }

  /** Builds label `*` from the other labels' totals (for windows closed without `*`). */
  addStar(): void {
    const all = new LabelAcc("*")
    for (const acc of this.labels.values()) if (acc.label !== "*" && countsInTotal(acc.label)) all.merge(acc)
    const old = this.labels.get("*")
    if (old !== undefined) all.merge(old)
    this.labels.delete("*")
    this.labels.set("*", all)
  }

  /** The summary over a run of `durationMs` from `startedAt`; rows in `order`, then by name. */
  summary(o: {
    readonly startedAt: number
    readonly durationMs: number
    readonly order?: ReadonlyArray<string> | undefined
    readonly dropped?: number | undefined
    readonly interrupted?: boolean | undefined
  }): RunSummary {
    const all = this.all
    const rest = inRequestOrder([...this.labels.values()].filter((l) => l.label !== "*"), o.order)
    return {
      startedAt: o.startedAt,
      durationMs: o.durationMs,
      total: all === undefined ? emptyLabel("*") : all.summary(o.durationMs),
      labels: rest.map((l) => l.summary(o.durationMs)),
      dropped: o.dropped ?? 0,
      interrupted: o.interrupted ?? false,
      thresholds: []
    }
  }

  /** The `summary` a node's terminal event carries (docs/protocol.md): label `*` only. */
  wireSummary(durationMs: number): Summary {
    const all = this.all
    return {
      count: all?.count ?? 0,
      errors: all?.errors ?? 0,
      bytesIn: all?.bytesIn ?? 0,
      durationMs,
      rps: all !== undefined && durationMs > 0 ? all.count / (durationMs / 1000) : 0,
      latencyMs: all === undefined ? emptyLatency : all.latency()
    }
  }
}
