// Byte-range -> string interning for the parsers' hot path: labels and status codes repeat on
// every line, so decoding them once and finding them again by a hash of their bytes saves a
// string allocation and a UTF-8 decode per field.

interface Entry {
  readonly bytes: Buffer
  readonly str: string
}

export class Interner {
  private readonly table = new Map<number, Array<Entry>>()
  private size = 0
  private readonly maxEntries: number
  constructor(maxEntries = 10_000) {
    this.maxEntries = maxEntries
  }

  get(buf: Buffer, start: number, end: number): string {
    let h = 0x811c9dc5
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193)
    return this.getHashed(buf, start, end, h)
  }

  /** As `get`, with the FNV-1a hash of the bytes (offset 0x811c9dc5, prime 0x01000193) given. */
  getHashed(buf: Buffer, start: number, end: number, h: number): string {
    const slot = this.slots[h & 255]
    if (slot !== undefined && slot.hash === h && this.same(slot.bytes, buf, start, end)) return slot.str
    const str = this.lookup(buf, start, end, h)
    this.slots[h & 255] = { bytes: this.lastBytes!, str, hash: h }
    return str
  }

  private same(b: Buffer, buf: Buffer, start: number, end: number): boolean {
    if (b.length !== end - start) return false
    for (let i = 0; i < b.length; i++) if (b[i] !== buf[start + i]) return false
    return true
  }

  /** A direct-mapped cache in front of the table: labels repeat, so most lookups end here. */
  private readonly slots: Array<{ readonly bytes: Buffer; readonly str: string; readonly hash: number } | undefined> =
    new Array(256).fill(undefined)
  private lastBytes: Buffer | undefined = undefined

  private lookup(buf: Buffer, start: number, end: number, h: number): string {
    const bucket = this.table.get(h)
    if (bucket !== undefined) {
      for (let k = 0; k < bucket.length; k++) {
        const e = bucket[k]!
        const b = e.bytes
        if (b.length !== end - start) continue
        let same = true
        for (let i = 0; i < b.length; i++) {
          if (b[i] !== buf[start + i]) {
            same = false
            break
          }
        }
        if (same) {
          this.lastBytes = e.bytes
          return e.str
        }
      }
    }
    const str = buf.toString("utf8", start, end)
    this.lastBytes = Buffer.from(buf.subarray(start, end))
    // Past the bound (runaway labels, e.g. ids in URLs) strings are decoded, not remembered.
    if (this.size < this.maxEntries) {
      const e: Entry = { bytes: this.lastBytes, str }
      if (bucket === undefined) this.table.set(h, [e])
      else bucket.push(e)
      this.size++
    }
    return str
  }
}
