// Tool adapters on their plans: the argv each one builds for the process runner and for the
// docker runner, where results land and in which format, the environment, typed errors for
// bad input, availability, and the judges. k6, Artillery and Gatling cannot be installed
// here (no binary in Debian; Artillery's npm tree is heavy), so they are tested on this
// level only; JMeter and Locust also run for real in tools-real.test.ts.
import { afterAll, assert, describe, it } from "@effect/vitest"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import type { StartCommand } from "../src/protocol/commands.ts"
import type { RunnerName } from "../src/runner/Backend.ts"
import { artilleryTool, makeArtilleryTool } from "../src/tools/artillery.ts"
import { gatlingTool } from "../src/tools/gatling.ts"
import { jmeterTool, makeJmeterTool } from "../src/tools/jmeter.ts"
import { k6Tool } from "../src/tools/k6.ts"
import { locustTool, makeLocustTool } from "../src/tools/locust.ts"
import { loadToolAdapters } from "../src/tools/loadToolAdapters.ts"
import { resultFileOf, type ToolAdapter, type ToolPlan } from "../src/tools/Tool.ts"

const command = (tool: string, entry: string | undefined, params: Record<string, unknown>, env?: Record<string, string>): StartCommand => ({
  kind: "start",
  commandId: "c1",
  testId: "t1",
  tool,
  ...(entry !== undefined ? { entry } : {}),
  params,
  ...(env !== undefined ? { env } : {})
})

const workRoot = mkdtempSync(join(tmpdir(), "grid-plan-"))
afterAll(() => rmSync(workRoot, { recursive: true, force: true }))

const plan = (tool: ToolAdapter, cmd: StartCommand, runner: RunnerName = "process") => {
  const workDir = mkdtempSync(join(workRoot, "w-"))
  const toolWorkDir = runner === "docker" ? "/grid/work" : workDir
  return Effect.map(tool.plan({ command: cmd, runner, workDir, toolWorkDir }), (p: ToolPlan) => ({ p, workDir }))
}

const failure = (tool: ToolAdapter, cmd: StartCommand) =>
  Effect.flip(Effect.map(plan(tool, cmd), (r) => r.p))

const exit0 = { exitCode: 0, signal: null }
const common = { users: 10, rampUpSeconds: 5, durationSeconds: 30, target: "http://127.0.0.1:8080/api/" }

describe("jmeter adapter", () => {
  it.effect("process argv: non-GUI run of the entry, CSV JTL with header, params as -J properties", () =>
    Effect.gen(function*() {
      const { p, workDir } = yield* plan(
        makeJmeterTool({ command: ["/opt/jmeter/bin/jmeter"] }),
        command("jmeter", "plans/a.jmx", { ...common, rate: 50, properties: { loops: 3, "my.flag": true } }, { JVM_ARGS: "-Xmx1g" })
      )
      const port = /^-Jjmeterengine\.nongui\.port=(\d+)$/.exec(p.argv.at(-2)!)?.[1]
      assert.isDefined(port, "JMeter gets a non-GUI port of its own for the polite UDP Shutdown")
      assert.strictEqual(p.argv.at(-1), `-Jjmeterengine.nongui.maxport=${port}`)
      assert.isDefined(p.politeStop)
      assert.deepStrictEqual(p.argv.slice(0, -2), [
        "/opt/jmeter/bin/jmeter", "-n",
        "-t", `${workDir}/plans/a.jmx`,
        "-l", `${workDir}/grid-results.jtl`,
        "-j", `${workDir}/grid-jmeter.log`,
        "-Jjmeter.save.saveservice.output_format=csv",
        "-Jjmeter.save.saveservice.print_field_names=true",
        "-Jjmeter.save.saveservice.autoflush=true",
        "-Jusers=10", "-JrampUp=5", "-Jduration=30", "-Jrate=50",
        "-Jtarget=http://127.0.0.1:8080/api/", "-Jtarget.protocol=http", "-Jtarget.host=127.0.0.1",
        "-Jtarget.port=8080", "-Jtarget.path=/api/",
        "-Jloops=3", "-Jmy.flag=true"
      ])
      assert.deepStrictEqual(p.results, { path: `${workDir}/grid-results.jtl`, format: "jmeter" })
      assert.deepStrictEqual(p.env, { JVM_ARGS: "-Xmx1g" })
    }))

  it.effect("docker argv: the image's entrypoint is jmeter, paths are under the mount, results on the host", () =>
    Effect.gen(function*() {
      const { p, workDir } = yield* plan(jmeterTool, command("jmeter", "a.jmx", { target: "https://example.test" }), "docker")
      assert.deepStrictEqual(p.argv.slice(0, 7), ["-n", "-t", "/grid/work/a.jmx", "-l", "/grid/work/grid-results.jtl", "-j", "/grid/work/grid-jmeter.log"])
      assert.include(p.argv, "-Jtarget.port=443")
      assert.strictEqual(resultFileOf(p)?.path, `${workDir}/grid-results.jtl`)
      assert.strictEqual(jmeterTool.defaultImage, "justb4/jmeter:5.5")
    }))

  it.effect("bad input is invalid_command with a clear message", () =>
    Effect.gen(function*() {
      assert.include((yield* failure(jmeterTool, command("jmeter", undefined, {}))).message, "needs entry")
      assert.include((yield* failure(jmeterTool, command("jmeter", "../x.jmx", {}))).message, "entry")
      assert.include((yield* failure(jmeterTool, command("jmeter", "a.jmx", { users: -1 }))).message, "params.users")
      assert.include((yield* failure(jmeterTool, command("jmeter", "a.jmx", { users: 1.5 }))).message, "integer")
      assert.include((yield* failure(jmeterTool, command("jmeter", "a.jmx", { target: "not a url" }))).message, "params.target")
      assert.include((yield* failure(jmeterTool, command("jmeter", "a.jmx", { properties: { a: {} } }))).message, "params.properties.a")
      assert.include((yield* failure(jmeterTool, command("jmeter", "a.jmx", { extraArgs: [1] }))).message, "params.extraArgs")
      assert.strictEqual((yield* failure(jmeterTool, command("jmeter", undefined, {}))).code, "invalid_command")
    }))

  it("judges from the samples and the log, not the exit code alone", () => {
    assert.isUndefined(jmeterTool.judge({ exit: exit0, samples: 12, logTail: ["... end of run"] }))
    assert.strictEqual(jmeterTool.judge({ exit: exit0, samples: 0, logTail: ["... end of run"] })?.code, "no_results")
    const forbidden = "[stdout] Error in NonGUIDriver com.thoughtworks.xstream.security.ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper"
    const v = jmeterTool.judge({ exit: exit0, samples: undefined, logTail: [forbidden] })
    assert.strictEqual(v?.code, "tool_failed")
    assert.include(v?.message, "ScriptWrapper")
    assert.strictEqual(jmeterTool.judge({ exit: exit0, samples: undefined, logTail: [] })?.code, "tool_failed")
    assert.isUndefined(jmeterTool.judge({ exit: exit0, samples: undefined, logTail: ["[stdout] ... end of run"] }))
    assert.strictEqual(jmeterTool.judge({ exit: { exitCode: 1, signal: null }, samples: 5, logTail: [] })?.code, "tool_failed")
  })
})

describe("locust adapter", () => {
  it.effect("process argv: headless, users, spawn rate from the ramp-up, duration, host, grid's hook beside the locustfile", () =>
    Effect.gen(function*() {
      const { p, workDir } = yield* plan(
        makeLocustTool({ command: ["/usr/bin/locust"] }),
        command("locust", "lf.py", { ...common, rate: 7, userClasses: ["A", "B"], extraArgs: ["--loglevel", "WARNING"] }, { X: "1" })
      )
      assert.deepStrictEqual(p.argv, [
        "/usr/bin/locust",
        "-f", `${workDir}/lf.py,${workDir}/grid_locust_hook.py`,
        "--headless", "-u", "10", "-r", "2", "-t", "30s",
        "-H", "http://127.0.0.1:8080/api",
        "--csv", `${workDir}/grid-locust`, "--only-summary", "--exit-code-on-error", "0", "--stop-timeout", "5",
        "--loglevel", "WARNING", "A", "B"
      ])
      assert.isTrue(existsSync(join(workDir, "grid_locust_hook.py")), "the hook is copied into the work directory")
      assert.deepStrictEqual(p.results, { path: `${workDir}/grid-locust-requests.jsonl`, format: "locust-hook" })
      assert.strictEqual(p.env.GRID_LOCUST_RESULTS, `${workDir}/grid-locust-requests.jsonl`)
      assert.strictEqual(p.env.GRID_RATE, "7")
      assert.strictEqual(p.env.X, "1")
    }))

  it.effect("docker argv: the image's entrypoint is locust, the hook and results under the mount", () =>
    Effect.gen(function*() {
      const { p, workDir } = yield* plan(locustTool, command("locust", "lf.py", {}), "docker")
      assert.deepStrictEqual(p.argv.slice(0, 8), ["-f", "/grid/work/lf.py,/grid/work/grid_locust_hook.py", "--headless", "-u", "1", "-r", "1", "--csv"])
      assert.strictEqual(p.env.GRID_LOCUST_RESULTS, "/grid/work/grid-locust-requests.jsonl")
      assert.strictEqual(resultFileOf(p)?.path, `${workDir}/grid-locust-requests.jsonl`)
      assert.isTrue(existsSync(join(workDir, "grid_locust_hook.py")))
    }))

  it.effect("bad input is invalid_command", () =>
    Effect.gen(function*() {
      assert.include((yield* failure(locustTool, command("locust", undefined, {}))).message, "locustfile")
      assert.include((yield* failure(locustTool, command("locust", "lf.py", { userClasses: "A" }))).message, "userClasses")
    }))

  it("judges by exit code, and a run without a single request failed", () => {
    assert.isUndefined(locustTool.judge({ exit: exit0, samples: 3, logTail: [] }))
    assert.strictEqual(locustTool.judge({ exit: exit0, samples: 0, logTail: [] })?.code, "no_results")
    assert.strictEqual(locustTool.judge({ exit: { exitCode: 1, signal: null }, samples: 3, logTail: ["No User class found!"] })?.code, "tool_failed")
  })
})

describe("k6 adapter", () => {
  it.effect("process argv: k6 run with JSON output, stages for a ramp-up, GRID_* env for the script", () =>
    Effect.gen(function*() {
      const { p, workDir } = yield* plan(k6Tool, command("k6", "s.js", { ...common, rate: 20 }))
      assert.deepStrictEqual(p.argv, [
        "k6", "run", "--no-usage-report", "--out", `json=${workDir}/grid-k6.json`,
        "--stage", "5s:10", "--stage", "30s:10", `${workDir}/s.js`
      ])
      assert.deepStrictEqual(p.results, { path: `${workDir}/grid-k6.json`, format: "k6" })
      assert.strictEqual(p.env.GRID_TARGET, "http://127.0.0.1:8080/api")
      assert.strictEqual(p.env.GRID_RATE, "20")
    }))

  it.effect("without a ramp-up: --vus and --duration; docker: no k6 prefix, paths under the mount", () =>
    Effect.gen(function*() {
      const { p } = yield* plan(k6Tool, command("k6", "s.js", { users: 4, durationSeconds: 10 }), "docker")
      assert.deepStrictEqual(p.argv, ["run", "--no-usage-report", "--out", "json=/grid/work/grid-k6.json", "--vus", "4", "--duration", "10s", "/grid/work/s.js"])
    }))

  it("exit 99 is thresholds_failed", () => {
    assert.strictEqual(k6Tool.judge({ exit: { exitCode: 99, signal: null }, samples: 5, logTail: [] })?.code, "thresholds_failed")
    assert.isUndefined(k6Tool.judge({ exit: exit0, samples: 5, logTail: [] }))
  })
})

describe("artillery adapter", () => {
  it.effect("process argv: JSON report, target, phases from rate/duration/ramp-up with users as maxVusers, telemetry off", () =>
    Effect.gen(function*() {
      const { p, workDir } = yield* plan(makeArtilleryTool({ command: ["npx", "artillery"] }), command("artillery", "t.yml", { ...common, rate: 40 }))
      assert.deepStrictEqual(p.argv, [
        "npx", "artillery", "run", "--output", `${workDir}/grid-artillery.json`,
        "--target", "http://127.0.0.1:8080/api",
        "--overrides", JSON.stringify({ config: { phases: [
          { duration: 5, arrivalRate: 1, rampTo: 40, maxVusers: 10 },
          { duration: 30, arrivalRate: 40, maxVusers: 10 }
        ] } }),
        `${workDir}/t.yml`
      ])
      assert.strictEqual(p.env.ARTILLERY_DISABLE_TELEMETRY, "true")
      assert.deepStrictEqual(p.results, { path: `${workDir}/grid-artillery.json`, format: "artillery" })
    }))

  it.effect("without a rate the script's phases hold; rate without duration is invalid", () =>
    Effect.gen(function*() {
      const { p } = yield* plan(artilleryTool, command("artillery", "t.yml", { users: 3 }), "docker")
      assert.deepStrictEqual(p.argv, ["run", "--output", "/grid/work/grid-artillery.json", "/grid/work/t.yml"])
      assert.include((yield* failure(artilleryTool, command("artillery", "t.yml", { rate: 5 }))).message, "durationSeconds")
    }))
})

describe("gatling adapter", () => {
  it.effect("process argv: the simulation class from the entry's folder, params as JAVA_OPTS system properties", () =>
    Effect.gen(function*() {
      const { p, workDir } = yield* plan(
        gatlingTool,
        command("gatling", "sims/MySim.scala", { ...common, simulation: "perf.MySim" }, { JAVA_OPTS: "-Xmx2g" })
      )
      assert.deepStrictEqual(p.argv, ["gatling.sh", "-s", "perf.MySim", "-sf", `${workDir}/sims`, "-rf", `${workDir}/grid-gatling-results`, "-nr"])
      assert.strictEqual(p.env.JAVA_OPTS, "-Xmx2g -Dusers=10 -DrampUp=5 -Dduration=30 -Dtarget=http://127.0.0.1:8080/api")
      assert.isUndefined(p.results)
    }))

  it.effect("needs params.simulation", () =>
    Effect.gen(function*() {
      assert.include((yield* failure(gatlingTool, command("gatling", "S.scala", {}))).message, "params.simulation")
      assert.include((yield* failure(gatlingTool, command("gatling", "S.scala", { simulation: "a b" }))).message, "params.simulation")
    }))

  it("exit 2 is assertions_failed", () => {
    assert.strictEqual(gatlingTool.judge({ exit: { exitCode: 2, signal: null }, samples: undefined, logTail: [] })?.code, "assertions_failed")
  })
})

describe("availability", () => {
  it.effect("configured commands and images reach the adapters", () =>
    Effect.gen(function*() {
      const adapters = loadToolAdapters({ locust: { command: ["/usr/bin/locust"], image: "my/locust:1" } })
      assert.deepStrictEqual(adapters.map((a) => a.name), ["jmeter", "locust", "k6", "artillery", "gatling"])
      const locust = adapters.find((a) => a.name === "locust")!
      assert.strictEqual(locust.defaultImage, "my/locust:1")
      const { p } = yield* plan(locust, command("locust", "lf.py", {}))
      assert.strictEqual(p.argv[0], "/usr/bin/locust")
    }))

  it.effect("process: the tool's executable must be found; docker: always (the runner's own availability decides)", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* makeJmeterTool({ command: ["/nonexistent/jmeter"] }).available("process"))
      assert.isTrue(yield* makeJmeterTool({ command: ["/nonexistent/jmeter"] }).available("docker"))
      assert.isTrue(yield* makeLocustTool({ command: ["sh"] }).available("process"))
      assert.isFalse(yield* makeLocustTool({ command: ["grid-no-such-locust"] }).available("process"))
    }))
})
