// The `hdr` field both ways across versions (src/protocol/hdrWire.ts): what this version writes
// (stored deflate blocks) is read by hdr-histogram-js as an older controller reads it, byte for
// byte the same V2 encoding once inflated; what older nodes wrote (the library's compressed
// encoding) and histograms of other settings are read by the fast reader into the same buckets
// the library finds; and a merge of windows of both kinds gives the union's percentiles.
import * as hdr from "hdr-histogram-js"
import { inflateSync } from "node:zlib"
import { describe, expect, it } from "vitest"
import { decodeHistogram, encodeHistogram, newHistogram } from "../src/protocol/results.ts"
import { mergeWindows } from "../src/report/mergeWindows.ts"
import { Recorder } from "../src/report/Recorder.ts"

let seed = 11
const rnd = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return seed / 4294967296
}

/** Histograms a node can write: empty, one value, log-normal latencies, huge counts (9-byte
 * varints), values past the recorder's 2^31 us array and bucket edges. */
const samples = (): Array<hdr.Histogram> => {
  const out: Array<hdr.Histogram> = [newHistogram()]
  const one = newHistogram()
  one.recordValue(2000)
  out.push(one)
  for (let k = 0; k < 20; k++) {
    const h = newHistogram()
    const n = 1 + Math.floor(rnd() * 300)
    for (let i = 0; i < n; i++) h.recordValue(Math.max(1, Math.round(Math.exp(Math.log(500 * (1 + k)) + 1.2 * (rnd() - 0.5) * 4))))
    out.push(h)
  }
  const wide = newHistogram()
  for (const v of [0, 1, 1023, 1024, 2047, 2048, 4095, 4096, 2 ** 31 - 1, 2 ** 31, 3 * 2 ** 33]) wide.recordValueWithCount(v, 1 + Math.floor(rnd() * 5))
  wide.recordValueWithCount(777, 2 ** 40 + 3)
  out.push(wide)
  return out
}

/** Bucket -> count of a decoded histogram, as the library sees it. */
const bucketsOf = (h: hdr.Histogram): Map<number, number> => {
  const js = h as unknown as { countsArrayLength: number; getCountAtIndex(i: number): number; valueFromIndex(i: number): number }
  const m = new Map<number, number>()
  for (let i = 0; i < js.countsArrayLength; i++) {
    const c = js.getCountAtIndex(i)
    if (c > 0) m.set(js.valueFromIndex(i), c)
  }
  return m
}

/** Bucket -> count of a Recorder, by the same bucket values. */
const recorded = (r: Recorder): Map<number, number> => bucketsOf(r.toHistogram())

const v2Of = (base64: string): Buffer => {
  const b = Buffer.from(base64, "base64")
  return inflateSync(b.subarray(8, 8 + b.readInt32BE(4)))
}

describe("hdr field", () => {
  it("what this version writes, hdr-histogram-js reads (older controllers): same V2 bytes, same buckets", () => {
    for (const h of samples()) {
      const ours = encodeHistogram(h)
      const theirs = hdr.encodeIntoCompressedBase64(h)
      expect(v2Of(ours).equals(v2Of(theirs))).toBe(true)
      const back = decodeHistogram(ours)
      expect(back.totalCount).toBe(h.totalCount)
      expect(bucketsOf(back)).toEqual(bucketsOf(h))
      // Stored blocks: the deflate stream's first block is BTYPE 00.
      expect(Buffer.from(ours, "base64")[10]! & 0x06).toBe(0)
    }
  })

  it("reads its own windows, older nodes' compressed ones and other settings into the library's buckets", () => {
    const other = hdr.build({ numberOfSignificantValueDigits: 2, bitBucketSize: 64, autoResize: true })
    for (const v of [5, 900, 1500, 123_456]) other.recordValueWithCount(v, 3)
    for (const h of samples()) {
      for (const text of [encodeHistogram(h), hdr.encodeIntoCompressedBase64(h)]) {
        const r = new Recorder()
        expect(r.addEncoded(text)).toBe(h.totalCount)
        expect(r.total).toBe(h.totalCount)
        expect(recorded(r)).toEqual(bucketsOf(h))
      }
    }
    const r = new Recorder()
    expect(r.addEncoded(hdr.encodeIntoCompressedBase64(other))).toBe(12)
    for (const p of [50, 90, 99]) expect(Math.abs(r.toHistogram().getValueAtPercentile(p) - other.getValueAtPercentile(p)) / other.getValueAtPercentile(p)).toBeLessThan(0.01)
  })

  it("refuses what is not an encoded histogram", () => {
    expect(() => new Recorder().addEncoded("bm90IGEgaGlzdG9ncmFt")).toThrow()
    expect(() => new Recorder().addEncoded("")).toThrow()
  })

  it("merges windows of both writers to the union's percentiles", () => {
    const union = newHistogram()
    const windows = samples().map((h, seq) => {
      union.add(h)
      const hdrText = seq % 2 === 0 ? encodeHistogram(h) : hdr.encodeIntoCompressedBase64(h)
      const ms = h.totalCount > 0 ? h.maxValue / 1000 : 0
      return {
        testId: "t", nodeId: "n", seq, start: seq * 1000, end: seq * 1000 + 1000, final: false,
        labels: [{ label: "*", count: h.totalCount, errors: 0, bytesIn: 0, bytesOut: 0, latencyMs: { min: 0, mean: 1, p50: 1, p90: 1, p95: 1, p99: 1, max: ms }, status: { "200": h.totalCount }, hdr: hdrText }]
      }
    })
    const all = mergeWindows(windows).all!
    expect(all.rec.total).toBe(union.totalCount)
    const merged = all.rec.toHistogram()
    for (const p of [50, 90, 95, 99, 99.9]) expect(merged.getValueAtPercentile(p)).toBe(union.getValueAtPercentile(p))
  })
})
