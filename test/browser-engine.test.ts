// The browser engine (src/engine/browser/) as a library with real Chromium (Debian's
// /usr/bin/chromium) against `grid target`'s /browser page on 127.0.0.1: the scenario
// schema lists every problem; a closed-model run's `home` samples equal the page loads the
// target counted; a missing selector fails that step with its message, saves a screenshot,
// and the users go on; LCP and TTFB samples are present and plausible (TTFB at least the
// target's delay); a browser killed mid-run is replaced; interruption leaves no Chromium.
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import type { Sample } from "../src/ingest/Sample.ts"
import { newStatus } from "../src/engine/Engine.ts"
import { decodeScenario } from "../src/engine/ScenarioLoader.ts"
import { serveTarget } from "../src/engine/TargetServer.ts"
import { runBrowserScenario } from "../src/engine/browser/BrowserEntry.ts"
import { runBrowser } from "../src/engine/browser/BrowserEngine.ts"
import type { BrowserPool } from "../src/engine/browser/BrowserPool.ts"
import { parseThreshold } from "../src/engine/Thresholds.ts"
import { decodePlan } from "../src/controller/Plan.ts"
import { startCommands } from "../src/controller/Split.ts"

const DELAY = 150
const target = serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: { "/browser": { latencyMs: DELAY, errorRate: 0 } } })

const collect = () => {
  const samples: Array<Sample> = []
  return { samples, sink: (s: Sample) => void samples.push(s) }
}

const steps = [
  { name: "home", goto: "/browser" },
  { name: "search", fill: { selector: "#q", value: "grid ${term}" } },
  { name: "submit", click: "#go", waitFor: "#results" },
  { name: "check", expectText: { selector: "#results", text: "found" } }
]

const scenario = (url: string, browser: Record<string, unknown>, load: Record<string, unknown>) =>
  decodeScenario({ target: url, browser, load, timeoutSeconds: 5, data: { file: "terms.csv" } }, "inline", {}, () => Effect.succeed("term\nalpha\nbeta\n"))

/** Chromium processes whose parent chain leads to this test process. */
const ourChromiums = (): Array<number> => {
  const out = execFileSync("ps", ["-eo", "pid=,ppid=,comm="], { encoding: "utf8" })
  const rows = out.trim().split("\n").map((l) => l.trim().split(/\s+/)).map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm: comm ?? "" }))
  const parent = new Map(rows.map((r) => [r.pid, r.ppid]))
  const ours = (pid: number): boolean => {
    for (let p = pid, n = 0; p > 1 && n < 20; p = parent.get(p) ?? 0, n++) if (p === process.pid) return true
    return false
  }
  return rows.filter((r) => r.comm.startsWith("chromium") && ours(r.pid)).map((r) => r.pid)
}

describe("browser scenario schema", () => {
  it.live("lists every problem of the browser section with its path", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(decodeScenario({
        target: "http://127.0.0.1:1",
        requests: [{ name: "a", path: "/" }],
        browser: {
          steps: [
            { name: "first", click: "#a" },
            { name: "both", goto: "/", click: "#b" },
            { name: "both", fill: { selector: "#q" } },
            { name: "nothing" },
            { name: "vars", goto: "/x?q=${missing}" }
          ],
          usersPerBrowser: 0
        },
        load: { model: "closed", users: 1, durationSeconds: 1 },
        thresholds: ["first:lcp p75 < 2.5s", "nope:lcp p75 < 1s"]
      }, "inline"))
      expect(err.problems).toEqual(expect.arrayContaining([
        expect.stringMatching(/^browser\.steps\[2\]\.fill\.value: /),
        expect.stringMatching(/^browser\.usersPerBrowser: /)
      ]))
      const err2 = yield* Effect.flip(decodeScenario({
        target: "http://127.0.0.1:1",
        requests: [{ name: "a", path: "/" }],
        browser: {
          steps: [
            { name: "first", click: "#a" },
            { name: "both", goto: "/", click: "#b" },
            { name: "both", fill: { selector: "#q", value: "x" } },
            { name: "nothing" },
            { name: "vars", goto: "/x?q=${missing}" }
          ]
        },
        load: { model: "closed", users: 1, durationSeconds: 1 },
        thresholds: ["first: p75 < 2.5s", "nope:lcp p75 < 1s"]
      }, "inline"))
      expect(err2.problems).toEqual(expect.arrayContaining([
        expect.stringMatching(/^requests: not allowed together with browser/),
        "browser.steps[0]: the first step must be a goto (a new user starts on a blank page)",
        "browser.steps[1]: one action per step, found goto, click",
        "browser.steps[2].name: \"both\" is used by an earlier step",
        expect.stringMatching(/^browser\.steps\[3\]: needs an action/),
        "browser.steps[4].goto: uses ${missing} but the scenario has no data file",
        "thresholds[1]: no request is named \"nope:lcp\""
      ]))
    }))

  it.effect("a launch plan takes a browser scenario and thresholds on its steps' page metrics", () =>
    Effect.gen(function*() {
      const scenario = { target: "http://127.0.0.1:9", browser: { steps }, load: { model: "closed", users: 4, durationSeconds: 5 }, data: { file: "terms.csv" } }
      const plan = yield* decodePlan({ tool: "builtin", scenario: { ...scenario, data: undefined, browser: { steps: steps.slice(0, 1) } }, thresholds: ["home:lcp p75 < 2.5s", "home: errors < 1%"] }, "plan.yaml")
      const cmds = startCommands(plan, "t-b", ["a", "b"], false)
      expect(cmds.map((c) => c.command.params!.users)).toEqual([2, 2])
      expect(JSON.parse(cmds[0]!.command.files![0]!.content).browser.steps[0].goto).toBe("/browser")
      const bad = yield* Effect.flip(decodePlan({ tool: "builtin", scenario: { ...scenario, data: undefined, browser: { steps: steps.slice(0, 1) } }, thresholds: ["nope:lcp p75 < 1s"] }, "plan.yaml"))
      expect(bad.problems).toEqual(["thresholds[0]: no request is named \"nope:lcp\""])
    }))

  it("reads page-metric thresholds with p75: \"home:lcp p75 < 2.5s\"", () => {
    expect(parseThreshold("home:lcp p75 < 2.5s")).toMatchObject({ label: "home:lcp", metric: "p75", op: "<", value: 2500 })
    expect(parseThreshold("home:cls p75 < 0.1")).toMatchObject({ label: "home:cls", metric: "p75", value: 0.1 })
    expect(parseThreshold("login: p99 <= 1s")).toMatchObject({ label: "login", metric: "p99", value: 1000 })
    expect(parseThreshold("p95 < 300ms")).toMatchObject({ label: "*", metric: "p95" })
  })
})

describe("browser engine with real Chromium", () => {
  it.live("closed model: one `home` sample per page load the target counted, every step ok, vitals plausible", () =>
    Effect.scoped(Effect.gen(function*() {
      const t = yield* target
      const s = yield* scenario(t.url, { steps, usersPerBrowser: 2 }, { model: "closed", users: 3, durationSeconds: 6 })
      const { samples, sink } = collect()
      let pool: BrowserPool | undefined
      yield* runBrowser({ ...s, browser: s.browser! }, sink, newStatus(), { onPool: (p) => (pool = p) })
      const by = (label: string) => samples.filter((x) => x.label === label)
      expect(by("home").length).toBeGreaterThanOrEqual(3)
      expect(by("home").length).toBe(t.stats.paths["/browser"])
      for (const label of ["home", "search", "submit", "check"]) {
        expect(by(label).filter((x) => !x.success).map((x) => x.error)).toEqual([])
      }
      // The result shows DELAY ms after the click: `submit` waits for it.
      expect(Math.min(...by("submit").map((x) => x.latencyMs))).toBeGreaterThanOrEqual(DELAY - 5)
      const ttfb = by("home:ttfb").map((x) => x.latencyMs)
      const lcp = by("home:lcp").map((x) => x.latencyMs)
      expect(ttfb.length).toBe(by("home").length)
      expect(lcp.length).toBe(by("home").length)
      expect(Math.min(...ttfb)).toBeGreaterThanOrEqual(DELAY - 1)
      for (const [i, v] of lcp.entries()) {
        expect(v).toBeGreaterThanOrEqual(ttfb[i]!)
        expect(v).toBeLessThan(5000)
      }
      expect(by("home:cls").every((x) => x.latencyMs >= 0 && x.latencyMs < 1)).toBe(true)
      // Three users, two per browser: two browsers, no crash.
      expect(pool!.stats).toEqual({ launched: 2, crashed: 0 })
      expect(ourChromiums()).toEqual([])
    })), 60_000)

  it.live("a missing selector fails that step with its message and a screenshot; users go on", () =>
    Effect.scoped(Effect.gen(function*() {
      const t = yield* target
      const dir = mkdtempSync(join(tmpdir(), "grid-shots-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const s = yield* scenario(t.url, {
        steps: [{ name: "home", goto: "/browser" }, { name: "missing", click: "#nope", timeoutSeconds: 0.5 }]
      }, { model: "closed", users: 1, durationSeconds: 6 })
      const { samples, sink } = collect()
      yield* runBrowserScenario(s, sink, newStatus(), undefined, { screenshotDir: dir })
      const missing = samples.filter((x) => x.label === "missing")
      expect(missing.length).toBeGreaterThanOrEqual(2) // the user went on after the first failure
      expect(missing.every((x) => !x.success && x.status === "timeout")).toBe(true)
      expect(missing[0]!.error).toMatch(/^click "#nope": Timeout 500ms exceeded/)
      expect(samples.filter((x) => x.label === "home").every((x) => x.success)).toBe(true)
      const shots = readdirSync(dir)
      expect(shots.length).toBe(missing.length)
      expect(shots[0]).toMatch(/^0001-missing-failed\.png$/)
    })), 60_000)

  it.live("a browser killed mid-run fails its users' iteration and is replaced", () =>
    Effect.scoped(Effect.gen(function*() {
      const t = yield* target
      const s = yield* scenario(t.url, { steps, usersPerBrowser: 5 }, { model: "closed", users: 2, durationSeconds: 60 })
      const { samples, sink } = collect()
      let pool: BrowserPool | undefined
      const run = yield* Effect.forkChild(runBrowser({ ...s, browser: s.browser! }, sink, newStatus(), { onPool: (p) => (pool = p) }))
      while (samples.filter((x) => x.label === "check").length < 2) yield* Effect.sleep(Duration.millis(100))
      const before = ourChromiums()
      expect(before.length).toBeGreaterThan(0)
      const killedAt = samples.length
      // The browser's main process: the one whose parent is this process.
      const main = execFileSync("ps", ["-o", "pid=", "--ppid", String(process.pid)], { encoding: "utf8" }).trim().split(/\s+/).map(Number)
        .filter((pid) => before.includes(pid))
      expect(main.length).toBe(1)
      process.kill(main[0]!, "SIGKILL")
      // Until an iteration has passed again (in a new browser), then the run is stopped.
      while (!samples.slice(killedAt).some((x) => x.label === "check" && x.success)) yield* Effect.sleep(Duration.millis(100))
      yield* Fiber.interrupt(run)
      expect(pool!.stats.crashed).toBe(1)
      expect(pool!.stats.launched).toBe(2)
      const after = samples.slice(killedAt)
      expect(after.some((x) => !x.success && x.status === "browser_closed")).toBe(true)
      expect(after.filter((x) => x.label === "check" && x.success).length).toBeGreaterThan(0)
      expect(ourChromiums()).toEqual([])
    })), 60_000)

  it.live("interrupting the run closes every context and browser", () =>
    Effect.scoped(Effect.gen(function*() {
      const t = yield* target
      const s = yield* scenario(t.url, { steps, usersPerBrowser: 1 }, { model: "closed", users: 3, durationSeconds: 60 })
      const { samples, sink } = collect()
      const run = yield* Effect.forkChild(runBrowserScenario(s, sink, newStatus()))
      while (samples.filter((x) => x.label === "home").length < 3) yield* Effect.sleep(Duration.millis(100))
      expect(ourChromiums().length).toBeGreaterThan(0)
      yield* Fiber.interrupt(run)
      expect(ourChromiums()).toEqual([])
    })), 60_000)

  it.live("a Chromium that is not there fails the run at once, naming it", () =>
    Effect.gen(function*() {
      const t = yield* Effect.scoped(target)
      void t
      expect(existsSync("/nonexistent/chromium")).toBe(false)
      const s = yield* scenario("http://127.0.0.1:9", { steps }, { model: "closed", users: 1, durationSeconds: 1 })
      const err = yield* Effect.flip(runBrowser({ ...s, browser: s.browser! }, () => undefined, newStatus(), { path: "/nonexistent/chromium" }))
      expect(err.code).toBe("browser_not_found")
      expect(err.message).toBe("browser /nonexistent/chromium (--browser-path) is not an executable file")
    }))
})
