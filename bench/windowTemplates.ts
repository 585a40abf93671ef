// Result-window bodies for the controller benchmark and its simulated fleet (bench/fleet.ts):
// 10 labels plus `*`, ~50 requests per label per second with log-normal latencies, each label
// with a real HdrHistogram encoded as nodes encode it (src/protocol/results.ts). `labels` is
// the JSON of the window's `labels` array, ready to splice into a message; `count` its `*` count.
import { encodeHistogram, newHistogram } from "../src/protocol/results.ts"

export const LABELS = 10

/** Window bodies with realistic histograms: ~50 req/s per node per label, log-normal latencies. */
export const windowTemplates = (n: number): Array<{ labels: string; count: number }> => {
  let seed = 7
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return seed / 4294967296
  }
  const normal = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd())
  return Array.from({ length: n }, () => {
    const all = newHistogram()
    let allCount = 0
    let allErrors = 0
    const labels: Array<Record<string, unknown>> = []
    for (let l = 0; l < LABELS; l++) {
      const h = newHistogram()
      const count = 30 + Math.floor(rnd() * 40)
      let sum = 0
      let min = Infinity
      let max = 0
      let errors = 0
      for (let i = 0; i < count; i++) {
        const us = Math.max(200, Math.round(Math.exp(Math.log(5_000 * (1 + l)) + 0.6 * normal())))
        h.recordValue(us)
        all.recordValue(us)
        sum += us / 1000
        min = Math.min(min, us / 1000)
        max = Math.max(max, us / 1000)
        if (rnd() < 0.01) errors++
      }
      allCount += count
      allErrors += errors
      const ms = (p: number) => h.getValueAtPercentile(p) / 1000
      labels.push({
        label: `request ${l}`, count, errors, bytesIn: count * 1200, bytesOut: count * 150,
        latencyMs: { min, mean: sum / count, p50: ms(50), p90: ms(90), p95: ms(95), p99: ms(99), max },
        status: errors > 0 ? { "200": count - errors, "500": errors } : { "200": count }, hdr: encodeHistogram(h)
      })
    }
    const ms = (p: number) => all.getValueAtPercentile(p) / 1000
    labels.unshift({
      label: "*", count: allCount, errors: allErrors, bytesIn: allCount * 1200, bytesOut: allCount * 150,
      latencyMs: { min: all.minNonZeroValue / 1000, mean: all.mean / 1000, p50: ms(50), p90: ms(90), p95: ms(95), p99: ms(99), max: all.maxValue / 1000 },
      status: { "200": allCount - allErrors, "500": allErrors }, hdr: encodeHistogram(all)
    })
    return { labels: JSON.stringify(labels), count: allCount }
  })
}
