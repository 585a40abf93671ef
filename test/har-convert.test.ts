// `grid convert` on a real recording (issue 20): Debian's chromium, driven by playwright-core
// with `recordHar`, opens `grid target`'s /app page (a stylesheet, a script, then a login
// that answers a token and sets a session cookie, and a cart read with the token); the HAR it
// writes converts into a scenario that drops the assets, captures the token from the login's
// JSON, leaves the cookie to the jar, and runs with zero errors against the same target.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium } from "playwright-core"
import { describe, expect } from "vitest"
import { parse as parseYaml } from "yaml"
import { convertHar } from "../src/engine/har/HarConvert.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { runGrid as grid } from "./support/gridCli.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/har-convert/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} }))
}
class Dir extends Context.Service<Dir, string>()("test/har-convert/Dir") {
  static readonly layer = Layer.effect(Dir, Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "grid-har-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ))
}

/** Records `url` with chromium into `file` (HAR, bodies embedded); the browser closes with the scope. */
const record = (url: string, file: string) =>
  Effect.gen(function*() {
    const browser = yield* Effect.acquireRelease(
      Effect.promise(() => chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"], timeout: 120_000 })),
      (b) => Effect.promise(() => b.close())
    )
    const context = yield* Effect.promise(() => browser.newContext({ recordHar: { path: file, content: "embed" } }))
    const page = yield* Effect.promise(() => context.newPage())
    yield* Effect.promise(() => page.goto(`${url}/app`, { timeout: 120_000 }))
    yield* Effect.promise(() => page.waitForSelector("body[data-done='1']", { timeout: 120_000 }))
    // A user's pause before leaving: the converted scenario's think time.
    yield* Effect.sleep("300 millis")
    yield* Effect.promise(() => page.goto(`${url}/json?page=2`, { timeout: 120_000 }))
    yield* Effect.promise(() => context.close()) // writes the HAR
  }).pipe(Effect.scoped)

layer(Layer.mergeAll(Target.layer, Dir.layer), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
  describe("grid convert", () => {
    it.effect("a HAR recorded by chromium converts into a scenario that runs with zero errors", () =>
      Effect.gen(function*() {
        const target = yield* Target
        const dir = yield* Dir
        const har = join(dir, "recording.har")
        yield* record(target.url, har)
        const recorded = JSON.parse(readFileSync(har, "utf8")) as { log: { entries: Array<{ request: { url: string } }> } }
        expect(recorded.log.entries.map((e) => new URL(e.request.url).pathname)).toEqual(
          expect.arrayContaining(["/app", "/static/app.css", "/static/app.js", "/login", "/cart", "/json"])
        )

        const out = join(dir, "scenario.yaml")
        const c = yield* grid(["convert", har, "--out", out])
        expect(c.code, c.stderr).toBe(0)
        expect(c.stderr).toContain("2 static assets dropped")
        expect(c.stderr).toContain("1 token turned into captures")
        const scenario = parseYaml(readFileSync(out, "utf8")) as {
          target: string
          requests: Array<{ name: string; path: string; headers?: Record<string, string>; capture?: unknown; thinkTimeMs?: number }>
        }
        expect(scenario.target).toBe(target.url)
        expect(scenario.requests.map((r) => r.path)).toEqual(["/app", "/login", "/cart", "/json?page=2"])
        expect(scenario.requests[1]!.capture).toEqual({ token: { json: "$.token" } })
        expect(scenario.requests[2]!.headers?.authorization).toBe("Bearer ${token}")
        expect(scenario.requests[2]!.headers?.cookie).toBeUndefined()
        expect(scenario.requests[2]!.thinkTimeMs).toBeGreaterThanOrEqual(200)

        // The converted scenario, shortened, against the same target.
        writeFileSync(out, readFileSync(out, "utf8").replace(/durationSeconds: 60/, "durationSeconds: 2").replace(/users: 1\b/, "users: 2"))
        yield* Effect.promise(() => fetch(`${target.url}/__reset`, { method: "POST" }))
        const r = yield* grid(["run", out, "--out", "-"])
        expect(r.code, r.stderr).toBe(0)
        const doc = JSON.parse(r.stdout) as { total: { count: number; errors: number }; labels: Array<{ label: string; count: number; status: Record<string, number> }> }
        expect(doc.total.count).toBeGreaterThanOrEqual(4)
        expect(doc.total.errors).toBe(0)
        const cart = doc.labels.find((l) => l.label === "GET /cart")!
        expect(cart.status).toEqual({ "200": cart.count })
        expect(target.stats.paths["/cart"]).toBe(cart.count)
      }), 240_000)

    it("an id an answer gave becomes a capture where a later path, header or Set-Cookie sent it", () => {
      const entry = (at: number, method: string, url: string, headers: Array<[string, string]>, status: number, text: string, set: Array<[string, string]> = []) => ({
        startedDateTime: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, at)).toISOString(),
        time: 10,
        request: { method, url, headers: headers.map(([name, value]) => ({ name, value })) },
        response: { status, headers: set.map(([name, value]) => ({ name, value })), content: { mimeType: "application/json", text } }
      })
      const converted = convertHar({
        log: {
          entries: [
            entry(0, "POST", "http://127.0.0.1:1/orders", [], 201, JSON.stringify({ order: { id: "a1b2c3d4e5" } }), [["X-Request-Key", "k9k9k9k9k9"], ["set-cookie", "csrf=zz11zz11zz; Path=/"]]),
            entry(500, "GET", "http://127.0.0.1:1/orders/a1b2c3d4e5?x=1", [["x-key", "k9k9k9k9k9"], ["x-csrf", "zz11zz11zz"], ["Cookie", "csrf=zz11zz11zz"]], 200, "{}")
          ]
        }
      }, { keepAssets: false })
      if (typeof converted === "string") throw new Error(converted)
      const [post, get] = converted.scenario.requests as Array<{ path: string; headers?: Record<string, string>; capture?: unknown; thinkTimeMs?: number; check?: unknown }>
      expect(post!.capture).toEqual({ id: { json: "$.order.id" }, "X-Request-Key": { header: "X-Request-Key" }, csrf: { cookie: "csrf" } })
      expect(post!.thinkTimeMs).toBe(490)
      expect(get!.path).toBe("/orders/${id}?x=1")
      expect(get!.headers).toEqual({ "x-key": "${X-Request-Key}", "x-csrf": "${csrf}" })
      expect(converted.captures.length).toBe(3)
    })

    it("refuses what is not a HAR, naming the field, and reports an empty conversion", () => {
      expect(convertHar({ log: { entries: [{ request: {} }] } }, { keepAssets: false })).toMatch(/^not a HAR file: .*startedDateTime/)
      const onlyAssets = {
        log: {
          entries: [{
            startedDateTime: "2026-01-01T00:00:00.000Z",
            request: { method: "GET", url: "http://127.0.0.1:1/a.css", headers: [] },
            response: { status: 200, headers: [], content: { mimeType: "text/css" } }
          }]
        }
      }
      expect(convertHar(onlyAssets, { keepAssets: false })).toMatch(/no request left .*--keep-assets/)
      const kept = convertHar(onlyAssets, { keepAssets: true })
      expect(typeof kept === "object" && kept.kept).toBe(1)
    })
  })
})
