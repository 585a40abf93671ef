// The dashboard's feed and event stream over real HTTP (no browser): a reader resuming from a
// seq gets only the points after it (and the last few a launch's merger may revise), a page
// opened mid-test gets every point so far, the end closes each stream with the final figures,
// an unreadable `since` or Last-Event-ID is refused with 400 naming it, and /report.html is the
// page with the data embedded.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { serveDashboard } from "../src/cli/dashboardHttp.ts"
import { DashboardFeed } from "../src/dashboard/Feed.ts"
import type { DashboardData, DashboardMeta } from "../src/dashboard/Model.ts"
import { emptyLabel, type RunSummary, type WindowPoint } from "../src/report/Summary.ts"
import { runGrid } from "./support/gridCli.ts"
import { tempDir } from "./support/prometheus.ts"

const meta: DashboardMeta = { kind: "run", title: "feed </script> test", commandLine: "grid run feed.yaml --dashboard", flags: {}, windowMs: 1000, load: "users" }
const point = (seq: number): WindowPoint => ({
  seq,
  start: 1_000_000 + seq * 1000,
  durationMs: 1000,
  count: 10,
  errors: 0,
  latencyMs: { p50: 1, p90: 2, p95: 3, p99: 4, max: 5 },
  labels: {}
})
const summary = (count: number): RunSummary => ({
  startedAt: 1_000_000,
  durationMs: 1000,
  total: { ...emptyLabel("*"), count },
  labels: [],
  dropped: 0,
  interrupted: false,
  thresholds: []
})

/** A feed over `points` (grown by the test), its load the number of points. */
const feedOf = (points: Array<WindowPoint>) =>
  new DashboardFeed(meta, {
    points: () => points,
    state: () => ({ summary: summary(points.length * 10), nodes: [], problems: [] }),
    load: () => points.length
  })

/** The first message (event name and data) of /events with `query`, and the stream's status. */
const firstMessage = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const res = await fetch(url, { headers })
    if (res.status !== 200) return { status: res.status, text: await res.text(), event: "", data: undefined as DashboardData | undefined, id: "" }
    const reader = res.body!.getReader()
    let text = ""
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
      const frame = /(?:^|\n\n)((?:event: (\w+)\n)?id: (-?\d+)\ndata: (.*)\n\n)/.exec(text)
      if (frame !== null) {
        await reader.cancel()
        return { status: 200, text, event: frame[2] ?? "message", id: frame[3]!, data: JSON.parse(frame[4]!) as DashboardData }
      }
    }
    return { status: 200, text, event: "", id: "", data: undefined }
  })

describe("dashboard feed", () => {
  it.live("resumes after a seq, starts from the beginning, ends with every point, refuses a bad seq", () =>
    Effect.gen(function*() {
      const points = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(point)
      const feed = feedOf(points)
      feed.refresh(2_000_000)
      const page = yield* serveDashboard("127.0.0.1:0", feed)
      const events = `${page.url}events`

      const fresh = yield* firstMessage(events)
      expect(fresh.data!.points.map((p) => p.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      expect(fresh.id).toBe("9")
      expect(fresh.data!.load[9]).toBe(10)
      expect(fresh.data!.state).toMatchObject({ done: false, summary: { total: { count: 100 } } })

      const resumed = yield* firstMessage(`${events}?since=7`)
      expect(resumed.data!.points.map((p) => p.seq)).toEqual([5, 6, 7, 8, 9])
      const byHeader = yield* firstMessage(events, { "last-event-id": "8" })
      expect(byHeader.data!.points.map((p) => p.seq)).toEqual([6, 7, 8, 9])

      for (const [q, name] of [["?since=abc", "since"], ["?since=-5", "since"], ["?since=99999999999", "since"]] as const) {
        const bad = yield* firstMessage(`${events}${q}`)
        expect(bad.status, q).toBe(400)
        expect(bad.text, q).toContain(name)
      }
      const badHeader = yield* firstMessage(events, { "last-event-id": "x1" })
      expect(badHeader.status).toBe(400)
      expect(badHeader.text).toContain("Last-Event-ID")

      // The end: the last window cut to its partial length, sent to a reader wherever it was.
      const final = [...points.slice(0, 9), { ...point(9), durationMs: 400, count: 4 }]
      feed.finish(final, { summary: summary(94), nodes: [], problems: [] }, 2_001_000)
      const ended = yield* firstMessage(`${events}?since=9`)
      expect(ended.event).toBe("end")
      expect(ended.data!.points).toHaveLength(10)
      expect(ended.data!.points.at(-1)!.durationMs).toBe(400)
      expect(ended.data!.state).toMatchObject({ done: true, summary: { total: { count: 94 } } })
      yield* page.drain(Duration.seconds(5))

      // The report of the test so far: the page with the data embedded, the title escaped.
      const html = yield* Effect.promise(() => fetch(`${page.url}report.html`).then((r) => r.text()))
      expect(html).toContain("<title>feed &lt;/script&gt; test</title>")
      const embedded = /<script id="grid-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!
      expect(embedded).not.toContain("</script")
      expect((JSON.parse(embedded) as DashboardData).state.summary.total.count).toBe(94)
      const data = yield* Effect.promise(() => fetch(`${page.url}data.json`).then((r) => r.json() as Promise<DashboardData>))
      expect(data.points).toHaveLength(10)
    }).pipe(Effect.scoped), 60_000)

  it.live("a bad --dashboard address, or --dashboard with --detach, is refused before anything starts", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("grid-dashboard-flags-")
      const scenario = join(dir, "s.json")
      writeFileSync(scenario, JSON.stringify({ target: "http://127.0.0.1:9", requests: [{ name: "a", path: "/" }], load: { model: "closed", users: 1, durationSeconds: 1 } }))
      const run = yield* runGrid(["run", scenario, "--dashboard=nowhere"])
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`--dashboard="nowhere": must be host:port or a port`)
      expect(run.stdout).not.toContain("closed model")
      const plan = join(dir, "plan.json")
      writeFileSync(plan, JSON.stringify({ name: "p", tool: "builtin", scenario: JSON.parse('{"target":"http://127.0.0.1:9","requests":[{"name":"a","path":"/"}],"load":{"model":"closed","users":1,"durationSeconds":1}}') }))
      const launch = yield* runGrid(["launch", plan, "--nodes", "n1", "--detach", "--dashboard"])
      expect(launch.code).toBe(1)
      expect(launch.stderr).toContain("--dashboard and --detach")
    }).pipe(Effect.scoped), 120_000)
})
