// Real JMeter (Debian's 2.13, started through the GridJMeterLauncher fixture) and real Locust
// (Debian's python3-locust) runs: each adapter's plan launched through the process backend
// against a counting HTTP target on 127.0.0.1, and the published results must hold exactly
// as many samples as the target served. Also: Debian's JMeter as shipped exits 0 having
// done nothing, and the adapter's judge must say it failed.
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, describe, layer } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Duration, Effect, Layer } from "effect"
import { parserFor } from "../src/ingest/parsers/index.ts"
import type { Sample } from "../src/ingest/Sample.ts"
import type { StartCommand } from "../src/protocol/commands.ts"
import { ProcessBackend } from "../src/runner/ProcessBackend.ts"
import { executableFound } from "../src/tools/adapterSupport.ts"
import { jmeterTool, makeJmeterTool } from "../src/tools/jmeter.ts"
import { makeLocustTool } from "../src/tools/locust.ts"
import { resultFileOf, type ToolAdapter, type ToolPlan } from "../src/tools/Tool.ts"
import { countingTarget, targetBody } from "./fixtures/countingTarget.ts"

const fixtures = join(import.meta.dirname, "fixtures")

/** Missing prerequisites fail (never skip): CI installs them through .ci/run. */
const requireExecutable = (exe: string, pkg: string) => {
  if (!executableFound(exe)) throw new Error(`${exe} not found: apt-get install ${pkg}`)
}

const startCommand = (tool: string, entry: string, params: Record<string, unknown>): StartCommand => ({
  kind: "start",
  commandId: `c-${tool}-${Date.now()}`,
  testId: `t-${tool}-${process.pid}`,
  tool,
  entry,
  params
})

/** Plans the tool in a fresh work dir holding `files`, launches it, returns the plan, exit and log. */
const runTool = (tool: ToolAdapter, command: StartCommand, files: Record<string, string>, stopAfter?: Duration.Input) =>
  Effect.gen(function*() {
    const backend = yield* ProcessBackend
    const workDir = mkdtempSync(join(tmpdir(), `grid-${tool.name}-`))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(workDir, { recursive: true, force: true })))
    for (const [name, source] of Object.entries(files)) copyFileSync(source, join(workDir, name))
    const plan: ToolPlan = yield* tool.plan({ command, runner: "process", workDir, toolWorkDir: workDir })
    const log: Array<string> = []
    const exit = yield* Effect.scoped(Effect.gen(function*() {
      const running = yield* backend.launch({
        testId: command.testId,
        nodeId: "tools-node",
        workDir,
        argv: plan.argv,
        env: plan.env,
        onLine: (stream, line) => log.push(`[${stream}] ${line}`)
      })
      if (stopAfter !== undefined) {
        yield* Effect.sleep(stopAfter)
        yield* running.stop(Duration.seconds(10))
      }
      return yield* running.exit
    }))
    const results = resultFileOf(plan) !== undefined && existsSync(resultFileOf(plan)!.path) ? readFileSync(resultFileOf(plan)!.path) : undefined
    return { plan, exit, log, results, workDir }
  })

const countJtl = (bytes: Buffer) => {
  let n = 0
  const parser = parserFor("jmeter", () => n++)
  parser.push(bytes)
  parser.end()
  assert.strictEqual(parser.bad.count, 0, JSON.stringify(parser.bad))
  return n
}

/** The hook's lines through the ingestion's `locust-hook` parser: none may be rejected. */
const hookSamples = (bytes: Buffer) => {
  const samples: Array<Sample> = []
  const parser = parserFor("locust-hook", (s) => samples.push(s))
  parser.push(bytes)
  parser.end()
  assert.strictEqual(parser.bad.count, 0, JSON.stringify(parser.bad))
  return samples
}

/** Debian's JMeter started through the GridJMeterLauncher fixture, compiled once per run. */
let launcherClasses: string | undefined
const launchedJmeter = () => {
  requireExecutable("jmeter", "jmeter")
  if (launcherClasses === undefined) {
    requireExecutable("javac", "default-jdk-headless")
    const out = mkdtempSync(join(tmpdir(), "grid-jmeter-launcher-"))
    execFileSync("javac", ["-d", out, "-cp", "/usr/share/jmeter/bin/ApacheJMeter.jar", join(fixtures, "jmeter", "GridJMeterLauncher.java")])
    launcherClasses = out
  }
  return makeJmeterTool({
    command: ["java", "-Djmeter.home=/usr/share/jmeter", "-cp", `/usr/share/jmeter/bin/ApacheJMeter.jar:${launcherClasses}`, "GridJMeterLauncher"]
  })
}

afterAll(() => {
  if (launcherClasses !== undefined) rmSync(launcherClasses, { recursive: true, force: true })
})

describe("real tools through their adapters and the process backend", () => {
  layer(ProcessBackend.layer({ forcedGrace: "5 seconds" }).pipe(Layer.provide(NodeServices.layer)), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })((it) => {
    it.effect("jmeter: every sample the target served is in the JTL, with a header line", () =>
      Effect.gen(function*() {
        const tool = launchedJmeter()
        const target = yield* countingTarget
        const run = yield* runTool(
          tool,
          startCommand("jmeter", "plan.jmx", { users: 3, rampUpSeconds: 0, target: target.url, properties: { loops: 7 } }),
          { "plan.jmx": join(fixtures, "jmeter", "plan.jmx") }
        )
        assert.strictEqual(run.exit.exitCode, 0, run.log.join("\n"))
        assert.isDefined(run.results, `no JTL; log:\n${run.log.join("\n")}`)
        assert.match(run.results!.toString("utf8"), /^timeStamp,elapsed,label,/)
        const samples = countJtl(run.results!)
        assert.strictEqual(target.count(), 21)
        assert.strictEqual(samples, target.count())
        assert.isUndefined(tool.judge({ exit: run.exit, samples, logTail: run.log }))
      }))

    it.effect("jmeter: a stop (SIGTERM) mid-run loses at most the requests in flight, one per user", () =>
      Effect.gen(function*() {
        const tool = launchedJmeter()
        const target = yield* countingTarget
        const run = yield* runTool(
          tool,
          startCommand("jmeter", "plan.jmx", { users: 2, target: target.url, properties: { loops: -1 } }),
          { "plan.jmx": join(fixtures, "jmeter", "plan.jmx") },
          "3 seconds"
        )
        const samples = countJtl(run.results!)
        assert.isAbove(samples, 0, run.log.join("\n"))
        assert.isAtMost(target.count() - samples, 2, `target served ${target.count()}, JTL holds ${samples}`)
        assert.isAtLeast(target.count() - samples, 0)
      }))

    it.effect("jmeter: Debian's 2.13 as shipped exits 0 without running the plan, and is judged failed", () =>
      Effect.gen(function*() {
        requireExecutable("jmeter", "jmeter")
        const target = yield* countingTarget
        const run = yield* runTool(jmeterTool, startCommand("jmeter", "plan.jmx", { users: 1, target: target.url }), {
          "plan.jmx": join(fixtures, "jmeter", "plan.jmx")
        })
        assert.strictEqual(run.exit.exitCode, 0)
        assert.strictEqual(target.count(), 0)
        const verdict = jmeterTool.judge({ exit: run.exit, samples: undefined, logTail: run.log })
        assert.strictEqual(verdict?.code, "tool_failed")
        assert.include(verdict?.message, "ForbiddenClassException")
        assert.strictEqual(jmeterTool.judge({ exit: run.exit, samples: 0, logTail: [] })?.code, "no_results")
      }))

    it.effect("locust: grid's hook writes one line per request, exactly as many as the target served", () =>
      Effect.gen(function*() {
        requireExecutable("/usr/bin/locust", "python3-locust")
        const tool = makeLocustTool({ command: ["/usr/bin/locust"] })
        const target = yield* countingTarget
        const run = yield* runTool(
          tool,
          startCommand("locust", "locustfile.py", { users: 3, rampUpSeconds: 0, durationSeconds: 2, target: target.url }),
          { "locustfile.py": join(fixtures, "locust", "locustfile.py") }
        )
        assert.strictEqual(run.exit.exitCode, 0, run.log.join("\n"))
        const samples = hookSamples(run.results!)
        assert.isAbove(target.count(), 10)
        assert.strictEqual(samples.length, target.count())
        const first = samples[0]!
        assert.strictEqual(first.label, "/hello")
        assert.strictEqual(first.status, "200")
        assert.strictEqual(first.success, true)
        assert.strictEqual(first.bytesIn, targetBody.length)
        assert.isAbove(first.timestamp, Date.now() - 60_000)
        assert.isAbove(first.latencyMs, 0)
        assert.isUndefined(tool.judge({ exit: run.exit, samples: samples.length, logTail: run.log }))
      }))

    it.effect("locust: a polite stop (SIGTERM) ends the run at once and loses no request", () =>
      Effect.gen(function*() {
        requireExecutable("/usr/bin/locust", "python3-locust")
        const tool = makeLocustTool({ command: ["/usr/bin/locust"] })
        const target = yield* countingTarget
        const started = Date.now()
        const run = yield* runTool(
          tool,
          startCommand("locust", "locustfile.py", { users: 2, durationSeconds: 60, target: target.url }),
          { "locustfile.py": join(fixtures, "locust", "locustfile.py") },
          "3 seconds"
        )
        assert.isBelow(Date.now() - started, 15_000)
        assert.isAbove(target.count(), 0)
        assert.strictEqual(hookSamples(run.results!).length, target.count())
      }))
  })
})
