// A browser scenario through a daemon (`tool: builtin`, process runner: `grid engine` as a
// child, its JTL followed by ingestion): the steps and page metrics arrive as result windows
// like any tool's, `home` counting the target's page loads; a `stop` mid-run ends the test
// with no Chromium left (found by a marker the start command puts in the tool's environment).
import { readdirSync, readFileSync } from "node:fs"
import { layer } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { describe, expect } from "vitest"
import { serveTarget } from "../src/engine/TargetServer.ts"
import { TestDaemon } from "./support/daemon.ts"
import { TestNats } from "./support/natsServer.ts"
import { WireClient } from "./support/WireClient.ts"

const node = "browser-1"
const env = TestDaemon.layer({ nodeId: node, resultsTimeout: Duration.seconds(30) }).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(TestNats.layer())
)

const marked = (mark: string): Array<number> =>
  readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      return readFileSync(`/proc/${p}/environ`, "latin1").split("\0").includes(`GRID_TEST_MARK=${mark}`) ? [Number(p)] : []
    } catch {
      return []
    }
  })

const scenario = (seconds: number) => ({
  target: "http://127.0.0.1:1",
  browser: {
    usersPerBrowser: 2,
    steps: [
      { name: "home", goto: "/browser?delay=50" },
      { name: "submit", click: "#go", waitFor: "#results" }
    ]
  },
  load: { model: "closed", users: 2, durationSeconds: seconds }
})

layer(env, { excludeTestServices: true, timeout: "240 seconds" })("browser scenarios through the daemon", (it) => {
  describe("builtin tool, process runner", () => {
    it.effect("windows carry the steps and page metrics; home counts the page loads", () =>
      Effect.scoped(Effect.gen(function*() {
        const client = yield* WireClient
        const target = yield* serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} })
        yield* client.send(node, {
          kind: "start",
          testId: "browser-run",
          tool: "builtin",
          entry: "scenario.json",
          files: [{ path: "scenario.json", content: JSON.stringify(scenario(5)) }],
          params: { target: target.url }
        })
        const done = yield* client.terminalOf("browser-run", "180 seconds")
        expect(done.kind).toBe("finished")
        const windows = yield* client.results("browser-run")
        const count = (label: string) => windows.flatMap((w) => w.labels.filter((l) => l.label === label)).reduce((n, l) => n + l.count, 0)
        expect(count("home")).toBeGreaterThanOrEqual(2)
        expect(count("home")).toBe(target.stats.paths["/browser"])
        expect(count("home:lcp")).toBe(count("home"))
        expect(count("submit")).toBeGreaterThanOrEqual(2)
      })), 240_000)

    it.effect("a stop mid-run leaves no Chromium", () =>
      Effect.scoped(Effect.gen(function*() {
        const client = yield* WireClient
        const target = yield* serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} })
        const mark = `daemon-${process.pid}-${Date.now()}`
        yield* client.send(node, {
          kind: "start",
          testId: "browser-stop",
          tool: "builtin",
          entry: "scenario.json",
          files: [{ path: "scenario.json", content: JSON.stringify(scenario(120)) }],
          env: { GRID_TEST_MARK: mark },
          params: { target: target.url }
        })
        while ((target.stats.paths["/browser"] ?? 0) < 2) yield* Effect.sleep(Duration.millis(100))
        expect(marked(mark).length).toBeGreaterThan(1)
        yield* client.send(node, { kind: "stop", testId: "browser-stop" })
        const done = yield* client.terminalOf("browser-stop", "120 seconds")
        expect(done.kind).toBe("stopped")
        expect(marked(mark)).toEqual([])
      })), 240_000)
  })
})

// `--tool-path browser=...` seeds the live flag tools.browser.path, which reaches the engine.
const node2 = "browser-2"
const env2 = TestDaemon.layer({ nodeId: node2, toolPaths: { browser: "/nonexistent/chromium" } }).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(TestNats.layer())
)

layer(env2, { excludeTestServices: true, timeout: "240 seconds" })("the browser's path on a daemon", (it) => {
  it.effect("--tool-path browser= (flag tools.browser.path) is the Chromium the engine starts", () =>
    Effect.scoped(Effect.gen(function*() {
      const client = yield* WireClient
      const target = yield* serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} })
      yield* client.send(node2, {
        kind: "start",
        testId: "browser-path",
        tool: "builtin",
        entry: "scenario.json",
        files: [{ path: "scenario.json", content: JSON.stringify(scenario(2)) }],
        params: { target: target.url }
      })
      const done = yield* client.terminalOf("browser-path", "120 seconds")
      expect(done.kind).toBe("failed")
      expect(done.kind === "failed" ? done.error.message : "").toContain("browser /nonexistent/chromium (GRID_BROWSER_PATH) is not an executable file")
      expect(target.stats.paths["/browser"]).toBeUndefined()
    })), 240_000)
})
