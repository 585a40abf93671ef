// The `hdr` field of a result window (docs/protocol.md): an HdrHistogram in its standard "V2
// compressed" encoding (cookie, length, zlib stream of the V2 encoding: a 40-byte header, then
// ZigZag LEB128 counts where a negative number is a run of empty buckets), base64.
// Why not hdr-histogram-js's own codec: a controller following 1,000 nodes reads 11,000 of these
// a second, and the library's decode (inflate, a fresh 64-bit histogram, a scan of every bucket)
// cost ~120 us each, two thirds of the merge. Here a reader walks the counts straight into its
// own buckets (`CountSink`), and a writer deflates with stored blocks (zlib level 0): still the
// standard encoding any reader inflates (old controllers included), a few percent larger (the
// counts barely compress), and a reader that finds stored blocks copies them instead of calling
// zlib, whose per-call set-up alone cost ~18 us. Windows of older nodes (compressed blocks) are
// inflated by zlib; histograms with other settings than the protocol's take the library's path.
import * as hdr from "hdr-histogram-js"
import { deflateSync, inflateSync } from "node:zlib"

const V2_COOKIE_BASE = 0x1c849303
const V2_COMPRESSED_COOKIE_BASE = 0x1c849304
/** The cookies hdr-histogram-js writes (word-size nibble 0x10: ZigZag LEB128 counts). */
const V2_COOKIE = V2_COOKIE_BASE | 0x10
const V2_COMPRESSED_COOKIE = V2_COMPRESSED_COOKIE_BASE | 0x10
const HEADER_BYTES = 40

/** Where decoded counts go: bucket `index` of the protocol's layout (lowest discernible value 1,
 * 3 significant digits: 1024 sub-buckets per power of two) gained `count` values. */
export interface CountSink {
  addCount(index: number, count: number): void
}

/** The V2 encoding of `h`, byte for byte as hdr-histogram-js writes it. */
const encodeV2 = (h: hdr.Histogram): Buffer => {
  const js = h as unknown as { countsArrayIndex(v: number): number; getCountAtIndex(i: number): number; countsArrayLength: number; lowestDiscernibleValue: number }
  const limit = Math.min(js.countsArrayLength, js.countsArrayIndex(h.maxValue) + 1)
  const out: Array<number> = []
  const put = (n: number) => {
    // ZigZag, then LEB128 with up to 8 groups of 7 bits and a full 9th byte.
    let v = n >= 0 ? n * 2 : -n * 2 - 1
    for (let i = 0; i < 8 && v >= 0x80; i++) {
      out.push((v % 0x80) | 0x80)
      v = Math.floor(v / 0x80)
    }
    out.push(v)
  }
  for (let i = 0; i < limit;) {
    const c = js.getCountAtIndex(i++)
    if (c !== 0) {
      put(c)
      continue
    }
    let zeros = 1
    while (i < limit && js.getCountAtIndex(i) === 0) {
      zeros++
      i++
    }
    put(zeros > 1 ? -zeros : 0)
  }
  const b = Buffer.alloc(HEADER_BYTES + out.length)
  b.writeInt32BE(V2_COOKIE, 0)
  b.writeInt32BE(out.length, 4)
  b.writeInt32BE(1, 8)
  b.writeInt32BE(h.numberOfSignificantValueDigits, 12)
  b.writeBigInt64BE(BigInt(js.lowestDiscernibleValue), 16)
  b.writeBigInt64BE(BigInt(h.highestTrackableValue), 24)
  b.writeBigInt64BE(1n, 32)
  for (let i = 0; i < out.length; i++) b[HEADER_BYTES + i] = out[i]!
  return b
}

/** `h` in the protocol's encoding (V2 compressed, deflated with stored blocks), base64. */
export const encodeHdr = (h: hdr.Histogram): string => {
  const z = deflateSync(encodeV2(h), { level: 0 })
  const b = Buffer.alloc(8 + z.length)
  b.writeInt32BE(V2_COMPRESSED_COOKIE, 0)
  b.writeInt32BE(z.length, 4)
  z.copy(b, 8)
  return b.toString("base64")
}

let scratch = Buffer.allocUnsafe(4096)

/** The zlib stream's content when it is made of stored blocks only; undefined otherwise. */
const storedContent = (b: Buffer, from: number, end: number): Buffer | undefined => {
  // zlib header: deflate (CM 8), no preset dictionary.
  if ((b[from]! & 0x0f) !== 8 || (b[from + 1]! & 0x20) !== 0) return undefined
  let p = from + 2
  const parts: Array<Buffer> = []
  for (;;) {
    if (p + 5 > end) return undefined
    const head = b[p]!
    // Stored block: BTYPE 00; its header's other bits pad to the byte boundary.
    if ((head & 0x06) !== 0) return undefined
    const len = b[p + 1]! | (b[p + 2]! << 8)
    const nlen = b[p + 3]! | (b[p + 4]! << 8)
    if ((len ^ 0xffff) !== nlen || p + 5 + len > end) return undefined
    parts.push(b.subarray(p + 5, p + 5 + len))
    p += 5 + len
    if ((head & 1) === 1) break
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

/**
 * Adds the counts of an `hdr` field to `sink`; returns how many values it held, or undefined
 * when the histogram has other settings than the protocol's (then use `decodeHistogram`).
 * Throws, as hdr-histogram-js does, on something that is not an encoded histogram.
 */
export const addHdrCounts = (base64: string, sink: CountSink): number | undefined => {
  // Decoded into one reused buffer: a controller reads 11,000 fields a second, and a Buffer
  // each was a fifth of its garbage. Nothing keeps a view of it past this call.
  const bound = Math.ceil(base64.length / 4) * 3
  if (bound > scratch.length) scratch = Buffer.allocUnsafe(bound)
  const b = scratch
  const length = b.write(base64, 0, "base64")
  if (length < 8 || (b.readInt32BE(0) & ~0xf0) !== V2_COMPRESSED_COOKIE_BASE) throw new Error("not an HdrHistogram V2 compressed encoding")
  const end = Math.min(length, 8 + b.readInt32BE(4))
  const v2 = storedContent(b, 8, end) ?? inflateSync(b.subarray(8, end))
  if (v2.length < HEADER_BYTES || (v2.readInt32BE(0) & ~0xf0) !== V2_COOKIE_BASE) throw new Error("not an HdrHistogram V2 encoding")
  // Other settings mean another bucket layout: the caller decodes it the slow way.
  if (v2.readInt32BE(12) !== 3 || v2.readInt32BE(20) !== 1 || v2.readInt32BE(16) !== 0) return undefined
  const stop = Math.min(v2.length, HEADER_BYTES + v2.readInt32BE(4))
  let p = HEADER_BYTES
  let index = 0
  let total = 0
  while (p < stop) {
    let byte = v2[p++]!
    let v = byte & 0x7f
    if (byte >= 0x80) {
      let scale = 0x80
      for (let i = 1; i < 8 && byte >= 0x80; i++) {
        byte = v2[p++]!
        v += (byte & 0x7f) * scale
        scale *= 0x80
      }
      if (byte >= 0x80) v += v2[p++]! * scale
    }
    if (v % 2 === 1) index += (v + 1) / 2
    else {
      const count = v / 2
      if (count > 0) {
        sink.addCount(index, count)
        total += count
      }
      index++
    }
  }
  return total
}
