// What lets one controller follow a thousand nodes without changing a figure: the Recorder
// answers percentiles exactly as the HdrHistogram built from it would (no histogram is built
// per label per second any more), and a second emitted before every node delivered it is
// refreshed when it is read, not on every late window, with the late windows in it.
import { describe, expect, it } from "vitest"
import { WindowMerger } from "../src/controller/Merger.ts"
import { encodeHistogram, newHistogram, type ResultWindow } from "../src/protocol/results.ts"
import { Recorder } from "../src/report/Recorder.ts"

let seed = 5
const rnd = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return seed / 4294967296
}

const PERCENTILES = [0, 0.1, 1, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100]

const windowOf = (nodeId: string, seq: number, latenciesUs: ReadonlyArray<number>): ResultWindow => {
  const h = newHistogram()
  for (const v of latenciesUs) h.recordValue(v)
  const ms = latenciesUs.map((v) => v / 1000)
  const n = latenciesUs.length
  return {
    testId: "t", nodeId, seq, start: seq * 1000, end: seq * 1000 + 1000, final: false,
    labels: [{
      label: "*", count: n, errors: 0, bytesIn: 0, bytesOut: 0, status: { "200": n }, hdr: encodeHistogram(h),
      latencyMs: { min: Math.min(...ms), mean: ms.reduce((a, b) => a + b, 0) / n, p50: 0, p90: 0, p95: 0, p99: 0, max: Math.max(...ms) }
    }]
  }
}

describe("merging at scale", () => {
  it("the Recorder's percentiles are the HdrHistogram's, bucket edges and huge values included", () => {
    for (let k = 0; k < 60; k++) {
      const r = new Recorder()
      const n = 1 + Math.floor(rnd() * 2000)
      for (let i = 0; i < n; i++) {
        const v = k % 7 === 0 ? Math.floor(rnd() * 4096) : Math.round(Math.exp(Math.log(100 * (1 + k)) + 3 * (rnd() - 0.5)))
        r.record(v, 1 + Math.floor(rnd() * 3))
      }
      if (k % 10 === 0) r.record(2 ** 31 + 12345, 2)
      const h = r.toHistogram()
      expect(r.totalCount).toBe(h.totalCount)
      for (const p of PERCENTILES) expect([k, p, r.getValueAtPercentile(p)]).toEqual([k, p, h.getValueAtPercentile(p)])
      // Recording after a read (the bucket order is kept up to date).
      r.record(1, 5)
      r.record(3_000_000, 1)
      const h2 = r.toHistogram()
      for (const p of PERCENTILES) expect(r.getValueAtPercentile(p)).toBe(h2.getValueAtPercentile(p))
    }
    expect(new Recorder().getValueAtPercentile(99)).toBe(0)
  })

  it("a second emitted before a node delivered shows its late window when read, before and after the flush", () => {
    const m = new WindowMerger(["a", "b"], { lagMs: 1000 })
    m.add(windowOf("a", 0, [1000, 2000]), 0)
    expect(m.tick(1500).map((p) => [p.seq, p.count])).toEqual([[0, 2]])
    // Late, after the second was shown: 10 slow requests move its p99.
    m.add(windowOf("b", 0, Array.from({ length: 10 }, () => 500_000)), 1600)
    const before = m.series[0]!
    expect(before.count).toBe(12)
    expect(before.latencyMs.p99).toBeGreaterThan(400)
    m.flush()
    expect(m.series[0]).toEqual(before)
    expect(m.summary(false).total.count).toBe(12)
  })
})
