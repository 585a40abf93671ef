// One node's result windows, as it publishes them, folded into the one accumulator (Totals)
// and reduced to points of the time series: `grid run`'s live line and its final summary are
// read from the windows its node published, exactly what a controller would have received,
// never from a second aggregation of the samples. Windows are taken in publish order; a
// repeated (testId, nodeId, seq) counts once, as the protocol asks of readers.
import { resultMsgId, type ResultWindow } from "../protocol/results.ts"
import { LabelAcc } from "./LabelAcc.ts"
import { pointOf } from "./Point.ts"
import type { RunSummary, WindowPoint } from "./Summary.ts"
import { Totals } from "./Totals.ts"

export class NodeWindows {
  readonly totals = new Totals()
  readonly points: Array<WindowPoint> = []
  private readonly seen = new Set<string>()
  /** How many of the source's windows were read (the source only grows). */
  private read = 0
  /** Epoch ms where the earliest window read starts. */
  firstStart: number | undefined = undefined
  /** Told of each new window as it is folded (`--http-addr`'s RunMetrics). */
  private readonly onWindow: ((w: ResultWindow) => void) | undefined

  constructor(onWindow?: (w: ResultWindow) => void) {
    this.onWindow = onWindow
  }

  /** Folds the windows published since the last call; returns how many were new. */
  update(published: ReadonlyArray<ResultWindow>): number {
    let added = 0
    for (; this.read < published.length; this.read++) {
      const w = published[this.read]!
      const id = resultMsgId(w)
      if (this.seen.has(id)) continue
      this.seen.add(id)
      added++
      this.totals.windows++
      const accs: Array<LabelAcc> = []
      for (const row of w.labels) {
        this.totals.addRow(row)
        const acc = new LabelAcc(row.label)
        acc.addRow(row)
        accs.push(acc)
      }
      this.points.push(pointOf(w.seq, w.start, w.end - w.start, accs))
      this.firstStart = Math.min(this.firstStart ?? w.start, w.start)
      this.onWindow?.(w)
    }
    return added
  }

  /** Count and errors over the windows read so far. */
  get soFar(): { readonly count: number; readonly errors: number } {
    const all = this.totals.all
    return { count: all?.count ?? 0, errors: all?.errors ?? 0 }
  }

  /** The run's summary over every window read, ending at `endedAt` (the last, partial window
   * is cut there); rows in `order` (the scenario's request names). */
  summary(o: { readonly endedAt: number; readonly fallbackStart: number; readonly order: ReadonlyArray<string>; readonly dropped: number; readonly interrupted: boolean }): RunSummary {
    const startedAt = this.firstStart ?? o.fallbackStart
    this.points.forEach((p, i) => {
      if (p.start + p.durationMs > o.endedAt) this.points[i] = { ...p, durationMs: Math.max(1, o.endedAt - p.start) }
    })
    return this.totals.summary({ startedAt, durationMs: Math.max(1, o.endedAt - startedAt), order: o.order, dropped: o.dropped, interrupted: o.interrupted })
  }
}
