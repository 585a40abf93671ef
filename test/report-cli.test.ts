// `grid report` as a CI gate (issue 12, item 2): it fails on garbage, on an empty file and on a
// format that reads nothing (saying what the content looks like), fails past --max-bad-lines
// with the reason of each bad line, detects the format from the content when --format is left
// out, and takes --threshold (exit 99) and --html like `grid run`.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { detectFormat } from "../src/ingest/detectFormat.ts"

const main = join(import.meta.dirname, "..", "src", "cli", "main.ts")
const fixture = (name: string) => join(import.meta.dirname, "fixtures", "ingest", name)
const dir = mkdtempSync(join(tmpdir(), "grid-report-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const report = (...args: Array<string>) => {
  const r = spawnSync(process.execPath, [main, "report", ...args], { encoding: "utf8" })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
const file = (name: string, text: string) => {
  const f = join(dir, name)
  writeFileSync(f, text)
  return f
}

const jtlHeader = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect"
const jtlLine = (i: number) => `${1700000000000 + i * 100},${10 + i},home,200,OK,T 1-1,text,true,,100,10,1,1,http://127.0.0.1/,5,0,1`
const hookLines = [
  JSON.stringify({ timestamp: 1700000000000, label: "home", latencyMs: 12, success: true, status: "200", bytesIn: 10 }),
  JSON.stringify({ timestamp: 1700000000100, label: "home", latencyMs: 15, success: false, status: "500" })
].join("\n") + "\n"

describe("grid report fails when it read nothing useful", () => {
  it("garbage: exit 1, says why", () => {
    const r = report(file("garbage.txt", "this is\nnot a result file\n"))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("cannot tell the format")
  })

  it("garbage read with an explicit format: exit 1, no sample read, each bad line with its reason", () => {
    const r = report(file("garbage.jtl", "hello,world\nfoo\n"), "--format", "jmeter")
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("no sample read")
    expect(r.stdout).toMatch(/line 1 \(not a JMeter CSV header.*\): hello,world/)
  })

  it("an empty file: exit 1", () => {
    const r = report(file("empty.jtl", ""))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("is empty")
  })

  it("the wrong format: exit 1, naming what the content looks like", () => {
    const r = report(fixture("jmeter5-quoted.jtl"), "--format", "jmeter-xml")
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/no sample read .* as jmeter-xml; the content looks like jmeter/)
  })

  it("a missing file: no such file", () => {
    const r = report(join(dir, "nope.jtl"))
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toBe(`grid report: no such file: ${join(dir, "nope.jtl")}`)
  })

  it("more bad lines than --max-bad-lines (default 1%): exit 1; under the limit: exit 0", () => {
    const lines = [jtlHeader, ...Array.from({ length: 20 }, (_, i) => jtlLine(i)), "1700000009999,not-a-number,home", ""]
    const f = file("some-bad.jtl", lines.join("\n"))
    const strict = report(f)
    expect(strict.code).toBe(1)
    expect(strict.stderr).toMatch(/1 bad line\(s\), 4\.76% of the records: more than --max-bad-lines 1%/)
    expect(report(f, "--max-bad-lines", "5%").code).toBe(0)
    expect(report(f, "--max-bad-lines", "1").code).toBe(0)
    expect(report(f, "--max-bad-lines", "0").code).toBe(1)
  })
})

describe("format detection", () => {
  it.each([
    ["jmeter5-quoted.jtl", "jmeter"],
    ["jmeter213-noheader.jtl", "jmeter"],
    ["jmeter-xml.jtl", "jmeter-xml"],
    ["locust_stats_history.csv", "locust"],
    ["k6-output.json", "k6"],
    ["artillery-report.json", "artillery"]
  ])("%s is %s", (name, format) => {
    expect(detectFormat(readFileSync(fixture(name), "utf8").slice(0, 65536))).toMatchObject({ format })
  })

  it("grid's Locust hook lines, and garbage is no format", () => {
    expect(detectFormat(hookLines)).toMatchObject({ format: "locust-hook" })
    expect(detectFormat("a,b,c\n1,2,3\n")).toHaveProperty("problem")
    expect(detectFormat("{\"x\": 1}\n")).toHaveProperty("problem")
  })

  it("without --format the report says what it detected and reads the file", () => {
    // The fixture holds 2 bad lines on purpose.
    const r = report(fixture("k6-output.json"), "--max-bad-lines", "50%")
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^format k6, detected: JSON lines/m)
    expect(r.stdout).toMatch(/\d+ samples/)
  })
})

describe("grid report gates CI like grid run", () => {
  it("--threshold: exit 99 when breached, 0 when held, with units", () => {
    const f = file("ok.jtl", [jtlHeader, ...Array.from({ length: 10 }, (_, i) => jtlLine(i)), ""].join("\n"))
    const held = report(f, "--threshold", "p95 < 1s", "--threshold", "errors < 1%")
    expect(held.code).toBe(0)
    expect(held.stdout).toMatch(/ok\s+p95 < 1s\s+\(actual [\d.]+ ms\)/)
    const breached = report(f, "--threshold", "home: p95 < 1ms")
    expect(breached.code).toBe(99)
    expect(breached.stderr).toContain("thresholds breached: home: p95 < 1ms")
    const bad = report(f, "--threshold", "p95 < soon")
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("--threshold \"p95 < soon\"")
  })

  it("--html writes the same report as grid run", () => {
    const out = join(dir, "r.html")
    const r = report(fixture("jmeter213-noheader.jtl"), "--html", out)
    expect(r.code).toBe(0)
    expect(existsSync(out)).toBe(true)
    const html = readFileSync(out, "utf8")
    expect(html).toContain("<html")
    expect(html).toContain("home")
  })
})
