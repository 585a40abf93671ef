// JMeter CSV JTL parser against hand-made files covering the awkward cases: JMeter 5 header,
// 2.13 without header (CRLF, no trailing newline), quoted fields with commas, doubled quotes and
// newlines, corrupt lines (counted with line numbers), and every possible chunk boundary.
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { jmeterCsv } from "../src/ingest/parsers/JMeterCsv.ts"
import type { Sample } from "../src/ingest/Sample.ts"

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures/ingest", name))

const parseChunks = (bytes: Buffer, chunk: number) => {
  const out: Array<Sample> = []
  const p = jmeterCsv((s) => out.push(s))
  for (let i = 0; i < bytes.length; i += chunk) p.push(bytes.subarray(i, i + chunk))
  p.end()
  return { samples: out, bad: p.bad.toJSON() }
}

describe("JMeter CSV parser", () => {
  it("reads JMeter 5 columns by header, quoted fields, and reports bad lines", () => {
    const { samples, bad } = parseChunks(fixture("jmeter5-quoted.jtl"), 1 << 20)
    expect(samples.map((s) => s.label)).toEqual(["home", "search, with comma", "checkout", "home", "multi\nline label", "home"])
    expect(samples[0]).toEqual({
      timestamp: 1700000000000,
      label: "home",
      latencyMs: 12,
      success: true,
      status: "200",
      bytesIn: 1200,
      bytesOut: 130,
      error: undefined
    })
    expect(samples[2]).toMatchObject({
      success: false,
      status: "500",
      error: 'Test failed: text expected to contain /ok/\nbut was "error"',
      bytesIn: 300,
      bytesOut: 150
    })
    expect(samples[5]).toMatchObject({
      success: false,
      status: "Non HTTP response code: java.net.ConnectException",
      error: "Non HTTP response code: java.net.ConnectException"
    })
    expect(bad.count).toBe(2)
    expect(bad.first).toEqual([
      { line: 7, text: "not,a,valid,line", reason: expect.any(String) },
      { line: 8, text: "1700000000400,x12,home,200,OK,Thread Group 1-2,text,true,,1200,130,2,2,http://127.0.0.1:8080/,6,0,0", reason: expect.any(String) }
    ])
  })

  it("reads JMeter 2.13's 12 headerless columns with CRLF and no final newline", () => {
    const { samples, bad } = parseChunks(fixture("jmeter213-noheader.jtl"), 1 << 20)
    expect(bad.count).toBe(0)
    expect(samples.map((s) => [s.label, s.latencyMs, s.status, s.success, s.bytesIn, s.bytesOut])).toEqual([
      ["home", 12, "200", true, 1200, 0],
      ["login", 20, "302", true, 400, 0],
      ["home", 33, "404", false, 150, 0],
      ["login", 5, "200", true, 400, 0]
    ])
    expect(samples[2]!.error).toBe("Not Found")
  })

  it("gives the same samples whatever the chunk boundaries", () => {
    for (const name of ["jmeter5-quoted.jtl", "jmeter213-noheader.jtl"]) {
      const bytes = fixture(name)
      const whole = parseChunks(bytes, 1 << 20)
      for (const size of [1, 2, 3, 7, 16, 64]) {
        const split = parseChunks(bytes, size)
        expect(split.samples).toEqual(whole.samples)
        expect(split.bad).toEqual(whole.bad)
      }
    }
  })

  it("holds a partial last line back until more bytes arrive", () => {
    const out: Array<Sample> = []
    const p = jmeterCsv((s) => out.push(s))
    p.push(Buffer.from("timeStamp,elapsed,label,success\n1700000000000,5,a,true\n17000000001"))
    expect(out.length).toBe(1)
    p.push(Buffer.from("00,6,b,false\n"))
    expect(out.map((s) => [s.label, s.timestamp, s.success])).toEqual([["a", 1700000000000, true], ["b", 1700000000100, false]])
    p.end()
    expect(p.bad.count).toBe(0)
  })

  it("counts an unterminated quoted field at the end as one bad record", () => {
    const { samples, bad } = parseChunks(
      Buffer.from('timeStamp,elapsed,label\n1700000000000,5,a\n1700000000001,5,"never closed\nstill open'),
      5
    )
    expect(samples.length).toBe(1)
    expect(bad.count).toBe(1)
    expect(bad.first[0]!.line).toBe(3)
  })

  it("maps grid engine's dropped arrivals to no latency, on both the fast and the quoted path", () => {
    const header = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n"
    const rows = [
      "1700000000000,7,home,200,OK,grid-engine,text,true,,10,5,1,1,,7,0,0",
      "1700000000001,0,home,dropped,no free connection,grid-engine,text,false,no free connection,0,0,1,1,,0,0,0",
      '1700000000002,0,"home, quoted",dropped,no free connection,grid-engine,text,false,,0,0,1,1,,0,0,0',
      "1700000000003,0,home,200,OK,grid-engine,text,true,,10,5,1,1,,0,0,0"
    ]
    const { samples, bad } = parseChunks(Buffer.from(header + rows.join("\n") + "\n"), 1 << 20)
    expect(bad.count).toBe(0)
    expect(samples.map((x) => x.latencyMs)).toEqual([7, NaN, NaN, 0])
    expect(samples[1]).toMatchObject({ success: false, status: "dropped" })
  })

  it("reads fractional elapsed (grid's engine writes microseconds) on both paths", () => {
    const header = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n"
    const rows = [
      "1700000000000,0.571,home,200,OK,grid-engine,text,true,,10,5,1,1,,1,0,0",
      '1700000000001,12.25,"quoted, label",200,OK,grid-engine,text,true,,10,5,1,1,,12,0,0',
      "1700000000002,3.,home,200,OK,grid-engine,text,true,,10,5,1,1,,3,0,0",
      "1700000000003,1.2.3,home,200,OK,grid-engine,text,true,,10,5,1,1,,3,0,0"
    ]
    const { samples, bad } = parseChunks(Buffer.from(header + rows.join("\n") + "\n"), 7)
    expect(samples.map((x) => x.latencyMs)).toEqual([0.571, 12.25, 3])
    expect(bad.count).toBe(1)
  })
})
