// The live dashboard of `grid run --dashboard` and the HTML report, in a real browser (Debian's
// chromium driven by playwright-core) against a real `grid run` process and a real target: the
// page's request count grows while the test runs and ends equal to the summary's; a page whose
// connection is cut (TCP proxy) says so, reconnects, and catches up to every window with no gap;
// the HTML report opens offline with every chart drawn with one point per window, no console
// error and no request, and downloads a chart as PNG and its data as CSV. Screenshots (light
// and dark) go to .artifacts/ to be looked at.
import { layer } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Page } from "playwright-core"
import { describe, expect } from "vitest"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { browser, openPage, screenshot, tcpProxy } from "./support/dashboardBrowser.ts"
import { runGrid, spawnGrid } from "./support/gridCli.ts"
import { waitUntil } from "./support/WireClient.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/dashboard/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({
    port: 0, host: "127.0.0.1", defaults: { latencyMs: 1, errorRate: 0 }, routes: { "/slow": { latencyMs: 30, errorRate: 0.1 } }
  }))
}
class Dir extends Context.Service<Dir, string>()("test/dashboard/Dir") {
  static readonly layer = Layer.effect(Dir, Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "grid-dashboard-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ))
}
class Chromium extends Context.Service<Chromium, Effect.Success<typeof browser>>()("test/dashboard/Chromium") {
  static readonly layer = Layer.effect(Chromium, browser)
}
const env = Layer.mergeAll(Target.layer, Dir.layer, Chromium.layer)

/** A scenario of `seconds` against the target: two labels, one slow and failing 10%. */
const scenario = (name: string, seconds: number, extra: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const file = join(yield* Dir, `${name}.json`)
    writeFileSync(file, JSON.stringify({
      target: (yield* Target).url,
      requests: [{ name: "home", path: "/", thinkTimeMs: 20 }, { name: "slow", path: "/slow" }],
      load: { model: "closed", users: 2, durationSeconds: seconds },
      thresholds: ["p95 < 2s", "errors < 50%"],
      ...extra
    }))
    return file
  })

interface Doc {
  readonly total: { readonly count: number }
  readonly windows: ReadonlyArray<{ readonly seq: number }>
}
const readDoc = (file: string): Doc => JSON.parse(readFileSync(file, "utf8")) as Doc

/** An expression evaluated in the page (a string: the tests are not typed against the DOM). */
const evaluate = <A>(page: Page, expression: string) => Effect.promise(() => page.evaluate(expression) as Promise<A>)
interface Seen {
  readonly conn: string
  readonly total: number
  readonly lastSeq: number
  readonly points: number
  /** The requests of the points the page holds (a run's total is their sum). */
  readonly pointsTotal: number
}
const seen = (page: Page) =>
  evaluate<Seen>(
    page,
    `(() => { const d = window.gridDashboard; return d === undefined ? { conn: "none", total: 0, lastSeq: -1, points: 0, pointsTotal: 0 }
      : { conn: d.connection(), total: d.total(), lastSeq: d.lastSeq(), points: d.points(), pointsTotal: d.pointsTotal() } })()`
  )
const charts = (page: Page) => evaluate<Array<{ id: string; points: number; series: number }>>(page, "window.gridDashboard.charts()")
/** The request count as the page shows it. */
const shownCount = (page: Page) => Effect.promise(() => page.locator("#stat-requests").getAttribute("data-value").then(Number))

/** Starts `grid run <file> --dashboard ...` and returns it with the page's URL it printed. */
const runWithDashboard = (file: string, out: string) =>
  Effect.gen(function*() {
    const p = yield* spawnGrid(["run", file, "--dashboard", "--out", out])
    const url = yield* waitUntil(`the dashboard's URL (${p.output().slice(-300)})`, Effect.sync(() => /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(p.output())?.[1]), "60 seconds")
    return { p, url }
  })

/** Samples the page every 250 ms until its stream has ended. */
const watchUntilEnded = (page: Page, limit: Duration.Input = "90 seconds") =>
  Effect.gen(function*() {
    const samples: Array<Seen> = []
    yield* waitUntil("the page to end", Effect.map(seen(page), (s) => {
      samples.push(s)
      return s.conn === "ended"
    }).pipe(Effect.delay("250 millis")), limit)
    return samples
  })

layer(env, { excludeTestServices: true, timeout: "150 seconds" })((it) => {
  describe("grid run --dashboard", () => {
    it.effect("the page's request count grows while it runs and ends equal to the summary's", () =>
      Effect.gen(function*() {
        const file = yield* scenario("live", 10)
        const out = join(yield* Dir, "live.json")
        const { p, url } = yield* runWithDashboard(file, out)
        const { page, errors } = yield* openPage(yield* Chromium)
        yield* Effect.promise(() => page.goto(url))
        // Sampled from the start, while the screenshots are taken.
        const watching = yield* Effect.forkScoped(watchUntilEnded(page))
        const dark = yield* openPage(yield* Chromium, { colorScheme: "dark" })
        yield* Effect.promise(() => dark.page.goto(url))
        yield* waitUntil("requests on the page", Effect.map(seen(page), (s) => s.total > 0 && s.points >= 3), "60 seconds")
        yield* screenshot(page, "dashboard-live-light")
        yield* screenshot(dark.page, "dashboard-live-dark")
        const samples = yield* Fiber.join(watching)
        expect(yield* p.exited, p.output()).toBe(0)
        const doc = readDoc(out)
        expect(doc.total.count).toBeGreaterThan(50)
        // Growing while live: several distinct counts, never going down, before the end.
        const live = samples.filter((s) => s.conn === "live").map((s) => s.total)
        expect(new Set(live).size, JSON.stringify(live)).toBeGreaterThanOrEqual(3)
        live.forEach((v, i) => expect(v).toBeGreaterThanOrEqual(live[i - 1] ?? 0))
        // Each message's tables agree with its charts: the total is the sum of the points shown.
        for (const s of samples) expect(s.total, JSON.stringify(s)).toBe(s.pointsTotal)
        expect(samples.at(-1)!.total).toBe(doc.total.count)
        expect(yield* shownCount(page)).toBe(doc.total.count)
        expect(samples.at(-1)!.points).toBe(doc.windows.length)
        for (const c of yield* charts(page)) expect(c.points, c.id).toBe(doc.windows.length)
        expect((yield* charts(page)).map((c) => c.id)).toEqual(
          expect.arrayContaining(["chart-rps", "chart-errors", "chart-latency", "chart-load", "chart-label-rps", "chart-label-p95"])
        )
        yield* Effect.promise(() => page.locator("#labels-table, #summary-table").first().waitFor())
        const rows = yield* Effect.promise(() => page.locator("#summary-table tbody tr td:first-child").allTextContents())
        expect(rows).toEqual(["home", "slow", "TOTAL"])
        expect(yield* Effect.promise(() => page.locator("#thresholds-table tbody tr").count())).toBe(2)
        expect(yield* Effect.promise(() => page.locator("#status-table").textContent())).toContain("200")
        // Kept as a report from the page itself (the server may be gone by now): opens offline whole.
        const saved = join(yield* Dir, "saved-live.html")
        yield* Effect.promise(async () => {
          const [d] = await Promise.all([page.waitForEvent("download"), page.click("#save-report")])
          expect(d.suggestedFilename()).toBe("live-report.html")
          await d.saveAs(saved)
        })
        const copy = yield* openPage(yield* Chromium, { offline: true })
        yield* Effect.promise(() => copy.page.goto(`file://${saved}`))
        yield* Effect.promise(() => copy.page.waitForFunction("document.querySelectorAll('.chart canvas').length >= 6"))
        for (const c of yield* charts(copy.page)) expect(c.points, c.id).toBe(doc.windows.length)
        expect(yield* shownCount(copy.page)).toBe(doc.total.count)
        expect(copy.errors).toEqual([])
        yield* screenshot(page, "dashboard-ended-light")
        yield* screenshot(dark.page, "dashboard-ended-dark")
        expect(errors).toEqual([])
        expect(dark.errors).toEqual([])
      }).pipe(Effect.scoped), 240_000)

    it.effect("a page whose connection is cut says so, reconnects and catches up with every window", () =>
      Effect.gen(function*() {
        const file = yield* scenario("cut", 9)
        const out = join(yield* Dir, "cut.json")
        const { p, url } = yield* runWithDashboard(file, out)
        const proxy = yield* tcpProxy(Number(new URL(url).port))
        const { page, errors } = yield* openPage(yield* Chromium)
        yield* Effect.promise(() => page.goto(`http://127.0.0.1:${proxy.port()}/`))
        const before = yield* waitUntil("two seconds on the page", Effect.map(seen(page), (s) => (s.conn === "live" && s.lastSeq >= 1 ? s : undefined)), "60 seconds")
        yield* Effect.promise(() => proxy.cut())
        const cut = yield* waitUntil("the page to notice", Effect.map(seen(page), (s) => (s.conn === "reconnecting" ? s : undefined)), "20 seconds")
        yield* screenshot(page, "dashboard-reconnecting")
        // The run goes on while the page is cut off; then the proxy comes back.
        yield* Effect.sleep("3 seconds")
        expect((yield* seen(page)).lastSeq).toBe(cut.lastSeq)
        yield* Effect.promise(() => proxy.restore())
        const samples = yield* watchUntilEnded(page)
        expect(samples.some((s) => s.conn === "live" && s.lastSeq > cut.lastSeq + 1), JSON.stringify(samples.slice(0, 20))).toBe(true)
        expect(yield* p.exited, p.output()).toBe(0)
        const doc = readDoc(out)
        expect(before.lastSeq).toBeGreaterThanOrEqual(1)
        // Every window, none missing around the cut, and the summary's count.
        expect(samples.at(-1)!.points).toBe(doc.windows.length)
        expect(samples.at(-1)!.lastSeq).toBe(doc.windows.at(-1)!.seq)
        expect(samples.at(-1)!.total).toBe(doc.total.count)
        // EventSource reports the cut as a failed request: the only console line allowed.
        expect(errors.filter((e) => !/ERR_CONNECTION|net::|EventSource/i.test(e))).toEqual([])
      }).pipe(Effect.scoped), 240_000)
  })

  describe("the HTML report", () => {
    it.effect("shows labels and status texts from a result file as text, never as markup", () =>
      Effect.gen(function*() {
        const dir = yield* Dir
        const jtl = join(dir, "hostile.jtl")
        const label = `<img src=x onerror="window.pwned=1"></script><b>x</b>`
        writeFileSync(jtl, [
          `1700000000000,12,"${label.replace(/"/g, '""')}",200,OK,Thread Group 1-1,text,true,1200,1,1,10`,
          "1700000000050,20,login,<i>500</i>,Oops,Thread Group 1-1,text,false,400,1,1,18"
        ].join("\n") + "\n")
        const html = join(dir, "hostile.html")
        const r = yield* runGrid(["report", jtl, "--format", "jmeter", "--html", html])
        expect(r.code, r.out).toBe(0)
        const { page, errors, requests } = yield* openPage(yield* Chromium, { offline: true })
        yield* Effect.promise(() => page.goto(`file://${html}`))
        yield* Effect.promise(() => page.waitForFunction("document.querySelectorAll('.chart canvas').length >= 5"))
        expect(yield* evaluate(page, "window.pwned === undefined && document.querySelectorAll('#app img, #app b, #app i').length === 0")).toBe(true)
        const rows = yield* Effect.promise(() => page.locator("#summary-table tbody tr td:first-child").allTextContents())
        expect(rows).toContain(label)
        expect(yield* Effect.promise(() => page.locator("#status-table").textContent())).toContain("<i>500</i>")
        expect(errors).toEqual([])
        expect(requests.filter((u) => !u.startsWith("file:"))).toEqual([])
      }).pipe(Effect.scoped), 240_000)

    it.effect("opens offline: every chart drawn with one point per window, no console error, PNG and CSV downloads", () =>
      Effect.gen(function*() {
        const file = yield* scenario("report", 4)
        const dir = yield* Dir
        const html = join(dir, "report.html")
        const out = join(dir, "report.json")
        const r = yield* runGrid(["run", file, "--html", html, "--out", out])
        expect(r.code, r.out).toBe(0)
        const doc = readDoc(out)
        const text = readFileSync(html, "utf8")
        expect(text).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?https?:/i)
        for (const scheme of ["light", "dark"] as const) {
          const { page, errors, requests } = yield* openPage(yield* Chromium, { colorScheme: scheme, offline: true })
          yield* Effect.promise(() => page.goto(`file://${html}`))
          yield* Effect.promise(() => page.waitForFunction("document.querySelectorAll('.chart canvas').length >= 6"))
          const drawn = yield* charts(page)
          expect(drawn.map((c) => c.id)).toEqual(["chart-rps", "chart-errors", "chart-latency", "chart-load", "chart-label-rps", "chart-label-p95"])
          for (const c of drawn) expect(c.points, c.id).toBe(doc.windows.length)
          expect(yield* shownCount(page)).toBe(doc.total.count)
          expect(yield* Effect.promise(() => page.locator("h1").textContent())).toBe("report")
          expect(yield* Effect.promise(() => page.locator(".cmd code").textContent())).toContain("--html")
          expect(errors).toEqual([])
          expect(requests.filter((u) => !u.startsWith("file:") && !u.startsWith("blob:") && !u.startsWith("data:"))).toEqual([])
          yield* screenshot(page, `report-${scheme}`)
          if (scheme === "dark") continue
          const csv = yield* Effect.promise(async () => {
            const [d] = await Promise.all([page.waitForEvent("download"), page.click("#chart-rps button[data-act=csv]")])
            return { name: d.suggestedFilename(), text: readFileSync((await d.path())!, "utf8") }
          })
          expect(csv.name).toBe("report-chart-rps.csv")
          expect(csv.text.trim().split("\n")).toHaveLength(doc.windows.length + 1)
          expect(csv.text.split("\n")[0]).toContain("requests/s (req/s)")
          const png = yield* Effect.promise(async () => {
            const [d] = await Promise.all([page.waitForEvent("download"), page.click("#chart-latency button[data-act=png]")])
            return { name: d.suggestedFilename(), bytes: readFileSync((await d.path())!) }
          })
          expect(png.name).toBe("report-chart-latency.png")
          expect(png.bytes.subarray(1, 4).toString()).toBe("PNG")
          expect(png.bytes.length).toBeGreaterThan(5000)
        }
      }).pipe(Effect.scoped), 240_000)
  })
})
