// `grid launch` with a browser scenario end to end: a real nats-server, two real daemons, a
// `grid target` process and Debian's chromium. The plan (`tool: builtin`, closed model, 2
// users) is split over both nodes; the merged `home` count must equal the page loads the
// target counted (GET /__stats), the page metrics (home:ttfb, home:lcp) must reach the merged
// report, and no chromium may be left once the launch is over. Chromium is found by a marker
// in its environment: the plan's `env`, which each node's `grid engine` child gets and passes on.
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { describe, expect } from "vitest"
import { launchDaemon } from "./support/daemonProcess.ts"
import { spawnGrid } from "./support/gridCli.ts"
import { freePort, TestNats } from "./support/natsServer.ts"
import { tempDir } from "./support/prometheus.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const env = WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer()))

/** Live processes whose environment holds GRID_TEST_MARK=<mark>. */
const marked = (mark: string): Array<number> =>
  readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      return readFileSync(`/proc/${p}/environ`, "latin1").split("\0").includes(`GRID_TEST_MARK=${mark}`) ? [Number(p)] : []
    } catch {
      return []
    }
  })

interface Summary {
  readonly outcome?: string
  readonly labels: Array<{ label: string; count: number; errors: number; latencyMs: { p50: number } }>
  readonly nodes: Array<{ nodeId: string; count: number }>
}

layer(env, { excludeTestServices: true, timeout: "240 seconds" })((it) => {
  describe("grid launch, browser scenario", () => {
    it.effect("two nodes run the browser users; home counts the target's page loads; no chromium left", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const mark = `launch-browser-${process.pid}-${Date.now()}`
        yield* launchDaemon("lb-1")
        yield* launchDaemon("lb-2")

        const port = yield* Effect.promise(() => freePort())
        const target = yield* spawnGrid(["target", "--port", String(port), "--route", "/browser=20"])
        yield* waitUntil("grid target listening", Effect.sync(() => target.stdout().includes("listening")), "60 seconds")
        const url = `http://127.0.0.1:${port}`

        const dir = yield* tempDir("grid-launch-browser-")
        const plan = path.join(dir, "plan.json")
        writeFileSync(plan, JSON.stringify({
          name: "browser-two-nodes",
          tool: "builtin",
          env: { GRID_TEST_MARK: mark },
          scenario: {
            target: url,
            browser: {
              steps: [
                { name: "home", goto: "/browser?delay=50" },
                { name: "search", fill: { selector: "#q", value: "grid" } },
                { name: "submit", click: "#go", waitFor: "#results" },
                { name: "check", expectText: { selector: "#results", text: "found" } }
              ],
              thinkTimeMs: 100
            },
            load: { model: "closed", users: 2, durationSeconds: 5 }
          }
        }))
        const out = path.join(dir, "out.json")
        const p = yield* spawnGrid(["launch", plan, "--nats-url", nats.url, "--nodes", "lb-1,lb-2", "--test-id", "launch-browser", "--out", out])
        // While it runs, the mark reaches chromium (else the check at the end proves nothing).
        const pageLoads = Effect.promise(() => fetch(`${url}/__stats`).then((r) => r.json() as Promise<{ paths: Record<string, number> }>))
        yield* waitUntil("a page load", Effect.map(pageLoads, (s) => (s.paths["/browser"] ?? 0) >= 1), "120 seconds")
        expect(marked(mark).length).toBeGreaterThan(0)
        expect(yield* p.exited, p.output()).toBe(0)

        const doc = JSON.parse(readFileSync(out, "utf8")) as Summary
        expect(doc.nodes.map((n) => n.nodeId).sort()).toEqual(["lb-1", "lb-2"])
        for (const n of doc.nodes) expect(n.count, `node ${n.nodeId}`).toBeGreaterThan(0)
        const label = (name: string) => doc.labels.find((l) => l.label === name)
        const stats = yield* pageLoads
        expect(label("home")?.count).toBeGreaterThanOrEqual(2)
        expect(label("home")?.count).toBe(stats.paths["/browser"])
        expect(label("home:ttfb")?.count).toBe(label("home")?.count)
        expect(label("home:ttfb")!.latencyMs.p50).toBeGreaterThanOrEqual(20) // the target's --route /browser=20
        expect(label("home:lcp")?.count).toBe(label("home")?.count)
        for (const name of ["search", "submit", "check"]) expect(label(name)?.errors, name).toBe(0)

        // No engine child and no chromium of either node is left.
        expect(marked(mark)).toEqual([])
      }).pipe(Effect.scoped), 240_000)
  })
})
