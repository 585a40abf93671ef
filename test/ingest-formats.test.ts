// The other result formats: JMeter XML, k6 JSON lines (fixture written from k6's documented
// output: no k6 binary here), Artillery's report from a real run (fixture + regenerate.sh),
// Locust's CSV stats history and hook lines; every parser fed in odd-sized chunks, and
// `grid report` run as a command on a fixture.
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parserFor } from "../src/ingest/parsers/index.ts"
import type { ResultFormat } from "../src/ingest/parsers/Parser.ts"
import { reportFile } from "../src/ingest/Report.ts"
import type { Sample } from "../src/ingest/Sample.ts"

const fixtures = join(import.meta.dirname, "fixtures/ingest")
const fixture = (name: string) => join(fixtures, name)

const parse = (format: ResultFormat, bytes: Buffer, chunk = 1 << 20) => {
  const samples: Array<Sample> = []
  const p = parserFor(format, (s) => samples.push(s))
  for (let i = 0; i < bytes.length; i += chunk) p.push(bytes.subarray(i, i + chunk))
  p.end()
  return { samples, bad: p.bad.toJSON() }
}

const sameInAnyChunking = (format: ResultFormat, name: string) => {
  const bytes = readFileSync(fixture(name))
  const whole = parse(format, bytes)
  for (const size of [1, 5, 64]) assert.deepStrictEqual(parse(format, bytes, size), whole, `${name} in ${size}-byte chunks`)
  return whole
}

const count = (samples: ReadonlyArray<Sample>) => samples.reduce((a, s) => a + (s.count ?? 1), 0)

describe("result formats", () => {
  it("JMeter XML: top-level samples only, entities, assertion failure messages, bad elements counted", () => {
    const { samples, bad } = sameInAnyChunking("jmeter-xml", "jmeter-xml.jtl")
    assert.deepStrictEqual(samples.map((s) => s.label), ["home", 'login & "auth"', "Transaction", "home"])
    assert.deepStrictEqual(samples[1], {
      timestamp: 1700000000100,
      label: 'login & "auth"',
      latencyMs: 40,
      success: false,
      status: "401",
      bytesIn: 300,
      bytesOut: 120,
      error: "Test failed: code expected to equal /\nreceived  : [[[401]]]"
    })
    assert.strictEqual(samples[3]!.error, "Non HTTP response message: Connection refused")
    assert.strictEqual(bad.count, 1)
    assert.strictEqual(bad.first[0]!.line, 18)
  })

  it("k6 JSON (documented format): one sample per http_req_duration, bytes per iteration to `*`", () => {
    const { samples, bad } = sameInAnyChunking("k6", "k6-output.json")
    const reqs = samples.filter((s) => s.count === undefined)
    assert.deepStrictEqual(reqs.map((s) => [s.label, s.status, s.success]), [
      ["https://127.0.0.1/get", "200", true],
      ["login", "200", true],
      ["login", "500", false],
      ["https://127.0.0.1:9/", "0", false],
      ["https://127.0.0.1/nope", "404", false]
    ])
    assert.strictEqual(reqs[0]!.latencyMs, 459.865729)
    assert.strictEqual(reqs[0]!.timestamp, Date.parse("2017-05-09T12:34:45.239Z") - 459.865729)
    assert.strictEqual(reqs[3]!.error, "dial tcp 127.0.0.1:9: connect: connection refused")
    const bytes = samples.filter((s) => s.count === 0)
    assert.deepStrictEqual(bytes.map((s) => [s.label, s.bytesIn, s.bytesOut]), [["*", 4096, 0], ["*", 0, 512]])
    assert.deepStrictEqual(bad.first.map((b) => b.line), [14, 15])
    const r = reportFile(fixture("k6-output.json"), "k6")
    assert.strictEqual(r.summary.total.count, 5)
    assert.strictEqual(r.summary.total.bytesIn, 4096)
    assert.strictEqual(r.summary.total.errors, 3)
  })

  it("Artillery report from a real run: every response and connection error, per endpoint", () => {
    const served = Number(readFileSync(fixture("artillery-report.served"), "utf8").trim())
    const { samples, bad } = sameInAnyChunking("artillery", "artillery-report.json")
    assert.strictEqual(bad.count, 0)
    const byLabel = new Map<string, number>()
    for (const s of samples) byLabel.set(s.label, (byLabel.get(s.label) ?? 0) + (s.count ?? 1))
    const json = JSON.parse(readFileSync(fixture("artillery-report.json"), "utf8"))
    const counters = json.aggregate.counters as Record<string, number>
    // Responses are what the target served; refused connections never reached it.
    assert.strictEqual(count(samples.filter((s) => s.status !== "ECONNREFUSED")), served)
    assert.strictEqual(count(samples), served + (counters["errors.ECONNREFUSED"] ?? 0))
    assert.strictEqual(byLabel.get("/hello"), counters["plugins.metrics-by-endpoint./hello.codes.200"])
    assert.strictEqual(byLabel.get("/missing"), counters["plugins.metrics-by-endpoint./missing.codes.404"])
    const r = reportFile(fixture("artillery-report.json"), "artillery")
    const all = r.summary.total
    assert.strictEqual(all.count, counters["http.requests"])
    assert.strictEqual(all.bytesIn, counters["http.downloaded_bytes"])
    assert.strictEqual(all.errors, (counters["http.codes.404"] ?? 0) + (counters["errors.ECONNREFUSED"] ?? 0))
    // A period's reported percentiles survive the weighted-sample mapping (within HdrHistogram's precision).
    const period = json.intermediate[0]
    const dir = mkdtempSync(join(tmpdir(), "grid-artillery-"))
    writeFileSync(join(dir, "one.json"), JSON.stringify({ aggregate: period, intermediate: [period] }))
    const one = reportFile(join(dir, "one.json"), "artillery").summary.labels.find((l) => l.label === "/hello")!
    rmSync(dir, { recursive: true, force: true })
    const summary = period.summaries["plugins.metrics-by-endpoint.response_time./hello"]
    // (A percentile whose rank is the last request's is the max in HdrHistogram terms: p99 of
    // 77 requests is rank 77, so only the lower ones can be compared with Artillery's.)
    for (const p of ["p50", "p90", "p95", "max", "min"] as const) {
      const want = summary[p] as number
      assert.approximately(one.latencyMs[p], want, want / 500 + 0.001, p)
    }
    assert.strictEqual(one.count, summary.count)
  })

  it("Locust CSV stats history: request deltas per name, Aggregated ignored once names appear", () => {
    const { samples, bad } = sameInAnyChunking("locust", "locust_stats_history.csv")
    assert.strictEqual(bad.count, 0)
    const by = (label: string) => samples.filter((s) => s.label === label)
    assert.strictEqual(count(by("/hello")), 15)
    assert.strictEqual(count(by("/hello").filter((s) => !s.success)), 1)
    assert.strictEqual(count(by("/login")), 2)
    assert.strictEqual(count(by("Aggregated")), 0)
    assert.strictEqual(by("/hello").reduce((a, s) => a + s.bytesIn, 0), 450)
    const r = reportFile(fixture("locust_stats_history.csv"), "locust")
    assert.strictEqual(r.summary.total.count, 17)
    assert.strictEqual(r.summary.labels.find((l) => l.label === "/login")!.latencyMs.max, 25)
  })

  it("Locust hook lines (format locust or locust-hook)", () => {
    const lines = [
      '{"timestamp":1700000000000.5,"label":"/hello","method":"GET","latencyMs":3.2,"success":true,"status":"200","bytesIn":30,"bytesOut":0,"error":null}',
      '{"timestamp":1700000000100,"label":"/hello","method":"GET","latencyMs":1.1,"success":false,"status":"","bytesIn":0,"bytesOut":0,"error":"ConnectionRefusedError(111)"}',
      '{"timestamp":"x"}',
      ""
    ].join("\n")
    for (const format of ["locust", "locust-hook"] as const) {
      const { samples, bad } = parse(format, Buffer.from(lines), 7)
      assert.deepStrictEqual(samples.map((s) => [s.label, s.success, s.status, s.error]), [
        ["/hello", true, "200", undefined],
        ["/hello", false, "", "ConnectionRefusedError(111)"]
      ])
      assert.deepStrictEqual(bad.first, [{ line: 3, text: '{"timestamp":"x"}', reason: "not a grid Locust hook line (timestamp, label, latencyMs, success)" }])
    }
  })

  it("grid report prints totals and a per-label table, or JSON", () => {
    const node = process.execPath
    const main = join(import.meta.dirname, "../src/cli/main.ts")
    // 2 bad lines of 8 records: over the default --max-bad-lines 1%, accepted with 30%.
    const text = execFileSync(node, [main, "report", fixture("jmeter5-quoted.jtl"), "--format", "jmeter", "--max-bad-lines", "30%"], { encoding: "utf8" })
    assert.match(text, /6 samples, 2 errors/)
    assert.match(text, /^checkout\s+1\s+[\d.]+\s+1 \(100\.00%\)/m)
    assert.match(text, /2 bad line\(s\)/)
    assert.match(text, /line 7 \([^)]+\): not,a,valid,line/)
    const json = JSON.parse(
      execFileSync(node, [main, "report", fixture("jmeter213-noheader.jtl"), "--format", "jmeter", "--json"], { encoding: "utf8" })
    )
    assert.strictEqual(json.command, "report")
    assert.strictEqual(json.total.label, "*")
    assert.strictEqual(json.total.count, 4)
    assert.deepStrictEqual(json.total.status, { "200": 2, "302": 1, "404": 1 })
  })
})
