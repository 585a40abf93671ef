// A result window cut to fit the transport's payload limit. A window carries one row and one
// HdrHistogram per label, so a tool reporting thousands of labels in one second could produce
// a message NATS refuses, which would wedge the in-order publisher. Here the least busy labels
// are folded into `__other__` (counts and histograms added, so label `*` and every total stay
// exact) until the window fits; `testLabels` goes next; only a window that cannot fit even as
// `*` alone is given up (undefined).
import { OTHER_LABEL } from "./Aggregator.ts"
import { encodeHistogram, encodeResultWindow, type LabelWindow, type ResultWindow } from "../protocol/results.ts"
import { LabelAcc } from "../report/LabelAcc.ts"

const sizeOf = (w: ResultWindow): number => Buffer.byteLength(encodeResultWindow(w))

/** The rows of `rows` added into one row named `__other__`. */
const fold = (rows: ReadonlyArray<LabelWindow>): LabelWindow => {
  const merged = new LabelAcc(OTHER_LABEL)
  for (const r of rows) merged.addRow(r)
  const h = merged.rec.toHistogram()
  return { ...merged.stats(h), hdr: encodeHistogram(h) }
}

/** `w` itself when it fits in `maxBytes`; else the fullest window that does; else undefined. */
export const fitWindow = (w: ResultWindow, maxBytes: number): ResultWindow | undefined => {
  if (sizeOf(w) <= maxBytes) return w
  const star = w.labels.filter((l) => l.label === "*")
  const rest = w.labels.filter((l) => l.label !== "*").sort((a, b) => b.count - a.count)
  const keeping = (k: number, base: ResultWindow): ResultWindow => {
    const folded = rest.slice(k)
    return { ...base, labels: [...star, ...rest.slice(0, k), ...(folded.length > 0 ? [fold(folded)] : [])] }
  }
  for (const base of [w, { ...w, testLabels: undefined }]) {
    if (sizeOf(keeping(0, base)) > maxBytes) continue
    // The largest k whose window fits: sizes grow with k, so a binary search finds it.
    let lo = 0
    let hi = rest.length
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2)
      if (sizeOf(keeping(mid, base)) <= maxBytes) lo = mid
      else hi = mid - 1
    }
    return keeping(lo, base)
  }
  const alone: ResultWindow = { ...w, testLabels: undefined, labels: star }
  return sizeOf(alone) <= maxBytes ? alone : undefined
}
