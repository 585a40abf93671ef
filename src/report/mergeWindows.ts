// Result windows (from one node or many) merged label by label into the one accumulator: what
// `grid results` rebuilds a past test from and how ingestion folds a window's rarest labels.
// A repeated (testId, nodeId, seq) is dropped, as the protocol asks of readers (a retried
// publish can arrive after the window was already delivered).
import { resultMsgId, type ResultWindow } from "../protocol/results.ts"
import { Totals } from "./Totals.ts"

export const mergeWindows = (windows: Iterable<ResultWindow>): Totals => {
  const seen = new Set<string>()
  const out = new Totals()
  for (const w of windows) {
    const id = resultMsgId(w)
    if (seen.has(id)) continue
    seen.add(id)
    out.windows++
    for (const l of w.labels) out.addRow(l)
  }
  return out
}
