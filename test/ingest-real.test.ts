// Parsers against real tools, end to end through live ingestion: Debian's JMeter 2.13 (through
// the GridJMeterLauncher fixture; its default CSV has no header) in CSV and XML, and Debian's
// Locust with grid's hook, each run against a counting target on 127.0.0.1 while ingestion
// follows the result file; the published windows must add up to what the target served.
// Missing tools fail the test (CI installs them), never skip it.
import { assert, describe, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { startIngestion } from "../src/ingest/Ingestion.ts"
import type { ResultFormat } from "../src/ingest/parsers/Parser.ts"
import { makeMemoryTransport, ResultTransport } from "../src/ingest/ResultTransport.ts"
import type { ResultWindow } from "../src/protocol/results.ts"

const fixtures = join(import.meta.dirname, "fixtures")
const hook = join(import.meta.dirname, "../src/tools/locust/grid_locust_hook.py")

const need = (path: string, pkg: string) => {
  if (!existsSync(path)) throw new Error(`${path} not found: apt-get install ${pkg}`)
}

/** A target that counts what it served; 404 for /missing. */
const countingTarget = Effect.acquireRelease(
  Effect.callback<{ port: number; count: () => number; close: () => void }>((resume) => {
    let count = 0
    const server = createServer((req, res) => {
      count++
      res.statusCode = req.url?.endsWith("/missing") ? 404 : 200
      res.end("hello from grid's ingest target\n")
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        port: (server.address() as { port: number }).port,
        count: () => count,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      })))
  }),
  (t) => Effect.sync(() => t.close())
)

/** Runs a command to its end; fails with its output if it exits non-zero. */
const run = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.callback<void, Error>((resume) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    child.on("exit", (code) =>
      resume(code === 0 ? Effect.void : Effect.fail(new Error(`${argv[0]} exited ${code}:\n${out.slice(-3000)}`))))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Live ingestion of `file` while `tool` runs; returns the published windows and the report. */
const ingestWhile = (file: string, format: ResultFormat, dir: string, tool: Effect.Effect<void, Error>) =>
  Effect.scoped(Effect.gen(function*() {
    const mem = makeMemoryTransport()
    const handle = yield* startIngestion({
      testId: "real",
      nodeId: "n1",
      source: { file, format },
      spillDir: dir,
      pollInterval: "100 millis",
      appearTimeout: "60 seconds"
    }).pipe(Effect.provide(ResultTransport.layerMemory(mem)))
    yield* tool
    const report = yield* handle.finish
    return { windows: mem.windows as ReadonlyArray<ResultWindow>, report }
  }))

const published = (ws: ReadonlyArray<ResultWindow>) => ws.reduce((a, w) => a + (w.labels[0]?.count ?? 0), 0)

describe("ingestion of real tool output", () => {
  it.live("JMeter 2.13: headerless default CSV and XML, windows add up to what the target served", () =>
    Effect.gen(function*() {
      need("/usr/share/jmeter/bin/ApacheJMeter.jar", "jmeter")
      need("/usr/bin/javac", "default-jdk-headless")
      const target = yield* countingTarget
      const dir = mkdtempSync(join(tmpdir(), "grid-ingest-jmeter-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      execFileSync("javac", ["-d", dir, "-cp", "/usr/share/jmeter/bin/ApacheJMeter.jar", join(fixtures, "jmeter", "GridJMeterLauncher.java")])
      copyFileSync(join(fixtures, "jmeter", "plan.jmx"), join(dir, "plan.jmx"))
      const jmeter = (results: string, extra: ReadonlyArray<string>) =>
        run([
          "java", "-Djmeter.home=/usr/share/jmeter", "-cp", `/usr/share/jmeter/bin/ApacheJMeter.jar:${dir}`, "GridJMeterLauncher",
          "-n", "-t", join(dir, "plan.jmx"), "-l", results, "-j", join(dir, "jmeter.log"),
          "-Jusers=3", "-Jloops=9", "-Jtarget.host=127.0.0.1", `-Jtarget.port=${target.port}`, ...extra
        ])

      const csv = join(dir, "default.jtl")
      const a = yield* ingestWhile(csv, "jmeter", dir, jmeter(csv, []))
      assert.strictEqual(target.count(), 27)
      assert.match(execFileSync("head", ["-c", "20", csv], { encoding: "utf8" }), /^\d{13},/, "2.13 writes no header")
      assert.strictEqual(a.report.badLines.count, 0, JSON.stringify(a.report.badLines))
      assert.strictEqual(published(a.windows), 27)
      assert.strictEqual(a.report.summary.count, 27)
      assert.strictEqual(a.report.summary.errors, 0)
      assert.isTrue(a.windows.at(-1)!.final)
      assert.deepStrictEqual([...new Set(a.windows.flatMap((w) => w.labels.map((l) => l.label)))].sort(), ["*", "get hello"])

      const xml = join(dir, "results.xml")
      const b = yield* ingestWhile(xml, "jmeter-xml", dir, jmeter(xml, ["-Jjmeter.save.saveservice.output_format=xml"]))
      assert.strictEqual(target.count(), 54)
      assert.strictEqual(b.report.badLines.count, 0, JSON.stringify(b.report.badLines))
      assert.strictEqual(published(b.windows), 27)
      assert.strictEqual(b.report.summary.bytesIn > 0, true)
    }), { timeout: 120_000 })

  it.live("Locust with grid's hook: windows add up to what the target served", () =>
    Effect.gen(function*() {
      need("/usr/bin/locust", "python3-locust")
      const target = yield* countingTarget
      const dir = mkdtempSync(join(tmpdir(), "grid-ingest-locust-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      copyFileSync(join(fixtures, "locust", "locustfile.py"), join(dir, "locustfile.py"))
      copyFileSync(hook, join(dir, "grid_locust_hook.py"))
      const results = join(dir, "requests.jsonl")
      const { windows, report } = yield* ingestWhile(
        results,
        "locust",
        dir,
        run(
          [
            "/usr/bin/locust", "-f", `${join(dir, "locustfile.py")},${join(dir, "grid_locust_hook.py")}`, "--headless",
            "-u", "3", "-r", "3", "-t", "3s", "-H", `http://127.0.0.1:${target.port}`, "--only-summary",
            // As grid's adapter does: the request in flight at the end is finished and recorded.
            "--exit-code-on-error", "0", "--stop-timeout", "5"
          ],
          { GRID_LOCUST_RESULTS: results, PYTHONUNBUFFERED: "1" }
        )
      )
      assert.isAbove(target.count(), 10)
      assert.strictEqual(report.badLines.count, 0, JSON.stringify(report.badLines))
      assert.strictEqual(published(windows), target.count())
      assert.strictEqual(report.summary.count, target.count())
      assert.isAbove(windows.length, 2)
    }), { timeout: 60_000 })
})
