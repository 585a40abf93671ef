// `grid launch --dashboard` on two real daemons over a real nats-server, watched in Debian's
// chromium: both nodes appear in the page's node table, running then finished, with their
// share of the load and their requests adding up to the merged total, which ends equal to the
// launch's summary; `--html` writes the same page with the test id and both nodes. Then
// `grid results <testId> --dashboard` serves the finished test from JetStream with the same
// figures. Screenshots to .artifacts/.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Page } from "playwright-core"
import { describe, expect } from "vitest"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { browser, openPage, screenshot } from "./support/dashboardBrowser.ts"
import { launchDaemon } from "./support/daemonProcess.ts"
import { spawnGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { tempDir } from "./support/prometheus.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/dashboard-launch/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 2, errorRate: 0 }, routes: {} }))
}
class Chromium extends Context.Service<Chromium, Effect.Success<typeof browser>>()("test/dashboard-launch/Chromium") {
  static readonly layer = Layer.effect(Chromium, browser)
}
const env = Layer.mergeAll(Target.layer, Chromium.layer, WireClient.layerNats).pipe(Layer.provideMerge(TestNats.layer()))

interface Row {
  readonly node: string
  readonly state: string
  readonly share: string
  readonly requests: number
}
/** The node table's rows as shown (read in the page; a string: the tests are not typed against the DOM). */
const nodeRows = (page: Page) =>
  Effect.promise(() =>
    page.evaluate(`Array.from(document.querySelectorAll("#nodes-table tbody tr")).map((tr) => {
      const td = Array.from(tr.querySelectorAll("td")).map((c) => c.textContent ?? "")
      return { node: td[0], state: td[1], share: td[2], requests: Number(td[3]) }
    })`) as Promise<Array<Row>>
  )
const pageState = (page: Page) =>
  Effect.promise(() =>
    page.evaluate(`(() => { const d = window.gridDashboard; return { conn: d ? d.connection() : "none", total: d ? d.total() : 0 } })()`) as Promise<{
      conn: string
      total: number
    }>
  )
const urlIn = (output: () => string) =>
  waitUntil(`the dashboard's URL (${output().slice(-300)})`, Effect.sync(() => /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output())?.[1]), "60 seconds")

layer(env, { excludeTestServices: true, timeout: "180 seconds" })((it) => {
  describe("grid launch --dashboard", () => {
    it.effect("shows both nodes of a two-node launch, and grid results --dashboard the finished test", () =>
      Effect.gen(function*() {
        const target = yield* Target
        const nats = yield* TestNats
        yield* launchDaemon("dash-1")
        yield* launchDaemon("dash-2")
        const dir = yield* tempDir("grid-dashboard-launch-")
        const plan = path.join(dir, "plan.json")
        fs.writeFileSync(plan, JSON.stringify({
          name: "two-nodes",
          tool: "builtin",
          scenario: {
            target: target.url,
            requests: [{ name: "home", path: "/", thinkTimeMs: 20 }, { name: "item", path: "/item" }],
            load: { model: "closed", users: 4, durationSeconds: 6 }
          },
          thresholds: ["p95 < 2s"]
        }))
        const out = path.join(dir, "out.json")
        const html = path.join(dir, "launch.html")
        const p = yield* spawnGrid(["launch", plan, "--nats-url", nats.url, "--nodes", "dash-1,dash-2", "--test-id", "dash-launch", "--dashboard", "--out", out, "--html", html])
        const url = yield* urlIn(p.output)
        const { page, errors } = yield* openPage(yield* Chromium)
        yield* Effect.promise(() => page.goto(url))
        const running = yield* waitUntil("both nodes running on the page", Effect.map(nodeRows(page), (rows) => {
          const live = rows.filter((r) => r.state === "running" && r.requests > 0)
          return live.length === 2 ? rows : undefined
        }), "90 seconds")
        expect(running.map((r) => r.node).sort()).toEqual(["dash-1", "dash-2"])
        expect(running.map((r) => r.share)).toEqual(["2 users", "2 users"])
        yield* screenshot(page, "dashboard-launch-running")
        yield* waitUntil("the page to end", Effect.map(pageState(page), (s) => s.conn === "ended"), "90 seconds")
        expect(yield* p.exited, p.output()).toBe(0)
        const doc = JSON.parse(fs.readFileSync(out, "utf8")) as { testId: string; total: { count: number }; nodes: Array<{ nodeId: string; count: number }> }
        const ended = yield* nodeRows(page)
        expect(ended.map((r) => [r.node, r.state])).toEqual([["dash-1", "finished"], ["dash-2", "finished"]])
        for (const n of doc.nodes) expect(ended.find((r) => r.node === n.nodeId)?.requests).toBe(n.count)
        expect((yield* pageState(page)).total).toBe(doc.total.count)
        expect(yield* Effect.promise(() => page.locator(".facts").textContent())).toContain("dash-launch")
        yield* screenshot(page, "dashboard-launch-ended")
        expect(errors).toEqual([])

        // The report file: the same page, the test id and both nodes in it.
        const report = fs.readFileSync(html, "utf8")
        const data = JSON.parse(/<script id="grid-data" type="application\/json">(.*?)<\/script>/s.exec(report)![1]!) as {
          meta: { title: string; testId: string }
          state: { nodes: Array<{ nodeId: string }>; summary: { total: { count: number } } }
        }
        expect(data.meta).toMatchObject({ title: "two-nodes", testId: "dash-launch" })
        expect(data.state.nodes.map((n) => n.nodeId)).toEqual(["dash-1", "dash-2"])
        expect(data.state.summary.total.count).toBe(doc.total.count)

        // A finished test, from the streams.
        const r = yield* spawnGrid(["results", "dash-launch", "--nats-url", nats.url, "--dashboard"])
        const past = yield* openPage(yield* Chromium, { colorScheme: "dark" })
        const pastUrl = yield* urlIn(r.output)
        yield* Effect.promise(() => past.page.goto(pastUrl))
        yield* waitUntil("the finished test on the page", Effect.map(pageState(past.page), (s) => s.conn === "ended"), "30 seconds")
        expect((yield* pageState(past.page)).total).toBe(doc.total.count)
        expect((yield* nodeRows(past.page)).map((x) => x.node)).toEqual(["dash-1", "dash-2"])
        yield* screenshot(past.page, "dashboard-results-dark")
        expect(past.errors).toEqual([])
      }).pipe(Effect.scoped), 240_000)
  })
})
