// The latency store of the one accumulator (LabelAcc.ts): a flat recorder on the ingestion hot path, bucketed exactly like an HdrHistogram with
// lowest discernible value 1 and 3 significant digits (the protocol's histogram, in µs).
// hdr-histogram-js's own recordValue goes through log2/pow and costs ~100 ns; this one is a
// clz32 and an array increment. It remembers which buckets it touched, so turning it into a
// real HdrHistogram (at window close) and resetting it cost the touched buckets, not the array.
import type * as hdr from "hdr-histogram-js"
import { addHdrCounts } from "../protocol/hdrWire.ts"
import { decodeHistogram, newHistogram } from "../protocol/results.ts"

/** Buckets for values below 2^31 µs (~35 minutes); larger values take a slow path. */
const SIZE = 22528
const LIMIT = 2 ** 31

/** Lowest value of bucket `idx` (HdrHistogram's valueFromIndex for these settings). */
export const valueAtIndex = (idx: number): number => {
  let bucket = (idx >> 10) - 1
  let sub = (idx & 1023) + 1024
  if (bucket < 0) {
    sub -= 1024
    bucket = 0
  }
  return sub * 2 ** bucket
}

export class Recorder {
  readonly counts = new Float64Array(SIZE)
  private touched = new Int32Array(256)
  private nTouched = 0
  /** Whether `touched` is in bucket order (percentiles walk it in order). */
  private sorted = true
  /** Values of 2^31 µs and above, rare enough to keep as (value, count) pairs. */
  private overflow: Array<number> = []
  total = 0

  /** Records a latency in microseconds (non-negative integer). */
  record(us: number, count: number): void {
    this.total += count
    if (us >= LIMIT) {
      this.overflow.push(us, count)
      return
    }
    const b = 21 - Math.clz32(us | 2047)
    const idx = (b << 10) + (us >>> b)
    const c = this.counts[idx]!
    if (c === 0) this.touch(idx)
    this.counts[idx] = c + count
  }

  private touch(idx: number): void {
    if (this.nTouched === this.touched.length) {
      const t = new Int32Array(this.touched.length * 2)
      t.set(this.touched)
      this.touched = t
    }
    this.touched[this.nTouched++] = idx
    this.sorted = false
  }

  /** Adds every recorded value into `other` (merging windows into run totals). */
  addInto(other: Recorder): void {
    for (let i = 0; i < this.nTouched; i++) {
      const idx = this.touched[i]!
      const c = other.counts[idx]!
      if (c === 0) other.touch(idx)
      other.counts[idx] = c + this.counts[idx]!
    }
    for (const v of this.overflow) other.overflow.push(v)
    other.total += this.total
  }

  /** Adds a window row's `hdr` field (base64) without building a histogram; returns how many
   * values it held. */
  addEncoded(base64: string): number {
    const n = addHdrCounts(base64, this)
    if (n !== undefined) return n
    // Another bucket layout (a writer with other settings): value by value.
    const h = decodeHistogram(base64) as unknown as hdr.Histogram & { countsArrayLength: number; getCountAtIndex(i: number): number; valueFromIndex(i: number): number }
    for (let idx = 0; idx < h.countsArrayLength; idx++) {
      const c = h.getCountAtIndex(idx)
      if (c > 0) this.record(h.valueFromIndex(idx), c)
    }
    return h.totalCount
  }

  /** One bucket of the protocol's layout (hdrWire.ts's CountSink). */
  addCount(idx: number, c: number): void {
    this.total += c
    if (idx >= SIZE) {
      this.overflow.push(valueAtIndex(idx), c)
      return
    }
    const old = this.counts[idx]!
    if (old === 0) this.touch(idx)
    this.counts[idx] = old + c
  }

  /** Values recorded (HdrHistogram's name: a Recorder answers percentiles like one). */
  get totalCount(): number {
    return this.total
  }

  /** HdrHistogram's getValueAtPercentile (the highest value equivalent to the one at that
   * rank), read from the buckets without building a histogram: a controller asks for the
   * percentiles of a dozen merged labels every second. */
  getValueAtPercentile(p: number): number {
    if (this.overflow.length > 0) return this.toHistogram().getValueAtPercentile(p)
    if (!this.sorted) {
      this.touched.subarray(0, this.nTouched).sort()
      this.sorted = true
    }
    const want = (Math.min(p, 100) / 100) * this.total
    const rank = Math.max(Math.ceil(want - 2 ** (Math.floor(Math.log2(want)) - 52)), 1)
    let n = 0
    for (let i = 0; i < this.nTouched; i++) {
      const idx = this.touched[i]!
      n += this.counts[idx]!
      if (n >= rank) return p === 0 ? valueAtIndex(idx) : valueAtIndex(idx) + 2 ** Math.max(0, (idx >> 10) - 1) - 1
    }
    return 0
  }

  /** Adds every recorded value into an HdrHistogram. */
  addToHistogram(h: hdr.Histogram): void {
    for (let i = 0; i < this.nTouched; i++) {
      const idx = this.touched[i]!
      h.recordValueWithCount(valueAtIndex(idx), this.counts[idx]!)
    }
    for (let i = 0; i < this.overflow.length; i += 2) h.recordValueWithCount(this.overflow[i]!, this.overflow[i + 1]!)
  }

  toHistogram(): hdr.Histogram {
    const h = newHistogram()
    this.addToHistogram(h)
    return h
  }

  reset(): void {
    for (let i = 0; i < this.nTouched; i++) this.counts[this.touched[i]!] = 0
    this.nTouched = 0
    this.sorted = true
    this.overflow = []
    this.total = 0
  }
}

/** Recorders are 176 KB each: windows return theirs here instead of reallocating. */
export class RecorderPool {
  private free: Array<Recorder> = []
  take(): Recorder {
    return this.free.pop() ?? new Recorder()
  }
  give(r: Recorder): void {
    r.reset()
    if (this.free.length < 256) this.free.push(r)
  }
}
