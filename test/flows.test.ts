// User flows in the built-in engine (issue 20) against `grid target`'s auth app (/login sets a
// session cookie and answers a token; /cart needs both): through `grid run` as a user runs
// it, the summary's counts per label equal what the target counted; without the capture
// every /cart is a 401 error; a body check catches `{"ok": false}` on a 200; weighted flows
// keep their mix; setup runs once and stays out of the totals. Validation lists every
// mistake of a flow scenario at once.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect } from "vitest"
import { JtlWriter } from "../src/engine/JtlWriter.ts"
import { decodeScenario } from "../src/engine/ScenarioLoader.ts"
import { type RunningTarget, serveTarget } from "../src/engine/TargetServer.ts"
import { parseThreshold } from "../src/engine/Thresholds.ts"
import { compileTemplate } from "../src/engine/flows/Variables.ts"
import { runGrid as grid } from "./support/gridCli.ts"

class Target extends Context.Service<Target, RunningTarget>()("test/flows/Target") {
  static readonly layer = Layer.effect(Target, serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} }))
}
class Dir extends Context.Service<Dir, string>()("test/flows/Dir") {
  static readonly layer = Layer.effect(Dir, Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "grid-flows-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ))
}

interface Row {
  readonly label: string
  readonly count: number
  readonly errors: number
  readonly status: Record<string, number>
}
interface Doc {
  readonly total: Row
  readonly labels: ReadonlyArray<Row>
  readonly thresholds: ReadonlyArray<{ threshold: string; ok: boolean; actual: number | null }>
}

/** Writes the scenario, runs `grid run --out -` on it and returns the document and the target's counts. */
const run = (name: string, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const target = yield* Target
    const file = join(yield* Dir, `${name}.json`)
    writeFileSync(file, JSON.stringify({ target: target.url, ...body }))
    yield* Effect.promise(() => fetch(`${target.url}/__reset`, { method: "POST" }))
    const r = yield* grid(["run", file, "--out", "-"])
    const doc = (r.stdout.trim().startsWith("{") ? JSON.parse(r.stdout) : undefined) as Doc | undefined
    return { code: r.code, stderr: r.stderr, doc: doc!, paths: { ...target.stats.paths } }
  })

const row = (doc: Doc, label: string): Row => doc.labels.find((l) => l.label === label) ?? { label, count: 0, errors: 0, status: {} }

const login = { name: "login", method: "POST", path: "/login", body: { user: "u${vu}" }, capture: { token: { json: "$.token" } }, check: { status: 200 } }
const cart = { name: "cart", path: "/cart", headers: { Authorization: "Bearer ${token}" }, check: { status: 200, json: { "$.ok": true } } }
const closed = (seconds: number, users = 4) => ({ model: "closed", users, durationSeconds: seconds })

layer(Layer.mergeAll(Target.layer, Dir.layer), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
  describe("an auth flow against grid target", () => {
    it.effect("capture and cookie: zero errors, the target counts exactly the summary's requests per label", () =>
      Effect.gen(function*() {
        const { code, doc, paths, stderr } = yield* run("auth", { requests: [login, cart], load: closed(2) })
        expect(code, stderr).toBe(0)
        expect(doc.total.errors).toBe(0)
        expect(row(doc, "login").count).toBeGreaterThan(0)
        expect(row(doc, "login").count).toBe(paths["/login"])
        expect(row(doc, "cart").count).toBe(paths["/cart"])
        expect(row(doc, "cart").status).toEqual({ "200": row(doc, "cart").count })
        expect(doc.total.count).toBe(paths["/login"]! + paths["/cart"]!)
      }), 240_000)

    it.effect("the undici client runs the same flow: captures, checks and cookies alike", () =>
      Effect.gen(function*() {
        const { code, doc, paths, stderr } = yield* run("auth-undici", { client: "undici", requests: [login, cart], load: closed(1, 2) })
        expect(code, stderr).toBe(0)
        expect(doc.total.errors).toBe(0)
        expect(row(doc, "cart").count).toBeGreaterThan(0)
        expect(row(doc, "cart").count).toBe(paths["/cart"])
      }), 240_000)

    it.effect("open model: each arrival logs in with its own jar and variables, zero errors", () =>
      Effect.gen(function*() {
        const { code, doc, paths, stderr } = yield* run("auth-open", { requests: [login, cart], load: { model: "open", rate: 40, durationSeconds: 1 } })
        expect(code, stderr).toBe(0)
        expect(doc.total.errors).toBe(0)
        expect(row(doc, "login").count).toBe(40)
        expect(row(doc, "cart").count).toBe(40)
        expect(paths["/cart"]).toBe(40)
      }), 240_000)

    it.effect("without the capture every /cart is a 401 error", () =>
      Effect.gen(function*() {
        const { doc, paths } = yield* run("no-capture", {
          requests: [{ ...login, capture: undefined }, { name: "cart", path: "/cart", headers: { Authorization: "Bearer none" } }],
          load: closed(1, 2)
        })
        const c = row(doc, "cart")
        expect(c.count).toBeGreaterThan(0)
        expect(c.count).toBe(paths["/cart"])
        expect(c.errors).toBe(c.count)
        expect(c.status).toEqual({ "401": c.count })
        expect(row(doc, "login").errors).toBe(0)
      }), 240_000)

    it.effect("without cookies (cookies: false) the token alone is refused: every /cart a 401", () =>
      Effect.gen(function*() {
        const { doc } = yield* run("no-cookies", { cookies: false, requests: [login, cart], load: closed(1, 2) })
        const c = row(doc, "cart")
        expect(c.count).toBeGreaterThan(0)
        expect(c.status).toEqual({ "401": c.count })
      }), 240_000)

    it.effect("the jar follows RFC 6265: path scope, expiry, foreign domains (Secure goes to loopback, as in browsers)", () =>
      Effect.gen(function*() {
        const { code, doc, stderr } = yield* run("cookie-rules", {
          requests: [
            { name: "set", path: "/cookies/set" },
            { name: "echo", path: "/cookies/echo", check: { json: { "$.names": ["a", "d"] } } },
            { name: "deep", path: "/cookies/deep/echo", check: { json: { "$.names": ["a", "b", "d"] } } }
          ],
          load: closed(1, 1)
        })
        expect(code, stderr).toBe(0)
        expect(row(doc, "deep").count).toBeGreaterThan(0)
        expect(doc.total.errors).toBe(0)
      }), 240_000)

    it.effect("a body check catches {\"ok\": false} on a 200, and a checks threshold sees it", () =>
      Effect.gen(function*() {
        const { code, doc } = yield* run("body-check", {
          requests: [
            { name: "good", path: "/json", check: { json: { "$.ok": true } } },
            { name: "bad", path: "/json?ok=false", check: { json: { "$.ok": true }, bodyContains: "ok" } }
          ],
          load: closed(1, 2),
          thresholds: ["good: checks > 99%", "bad: checks > 99%"]
        })
        expect(code).toBe(99)
        expect(row(doc, "bad").status).toEqual({ "200": row(doc, "bad").count })
        expect(row(doc, "bad").errors).toBe(row(doc, "bad").count)
        expect(row(doc, "good").errors).toBe(0)
        expect(doc.thresholds.map((t) => t.ok)).toEqual([true, false])
      }), 240_000)

    it.effect("a capture that finds nothing ends the iteration: the next request is not sent", () =>
      Effect.gen(function*() {
        const { doc, paths, stderr } = yield* run("capture-fail", {
          requests: [
            { name: "json", path: "/json", capture: { missing: { json: "$.nothing" } } },
            { name: "never", path: "/never?x=${missing}" }
          ],
          load: closed(1, 2)
        })
        expect(row(doc, "json").count, stderr).toBeGreaterThan(0)
        expect(row(doc, "json").errors).toBe(row(doc, "json").count)
        expect(paths["/never"]).toBeUndefined()
      }), 240_000)

    it.effect("flows weighted 3:1 keep the mix within 5% over at least 2,000 iterations", () =>
      Effect.gen(function*() {
        // Runs of 2 s until 2,000 iterations (a busy machine may need several); each run's mix
        // is exact within one pick, so their sum is too.
        let shoppers = 0
        let browsers = 0
        for (let i = 0; i < 8 && shoppers + browsers < 2000; i++) {
          const { doc, paths } = yield* run("weights", {
            flows: [
              { name: "shopper", weight: 3, requests: [login, cart] },
              { name: "browser", weight: 1, requests: [{ name: "home", path: "/json" }] }
            ],
            load: closed(2, 8)
          })
          expect(doc.total.errors).toBe(0)
          expect(row(doc, "shopper/cart").count).toBe(paths["/cart"])
          shoppers += row(doc, "shopper/login").count
          browsers += row(doc, "browser/home").count
        }
        expect(shoppers + browsers).toBeGreaterThanOrEqual(2000)
        expect(Math.abs(shoppers / browsers / 3 - 1)).toBeLessThan(0.05)
      }), 240_000)

    it.effect("setup runs once, its capture reaches every user, its samples stay out of the totals", () =>
      Effect.gen(function*() {
        const { code, doc, paths, stderr } = yield* run("setup", {
          setup: [{ name: "admin", method: "POST", path: "/login", body: { user: "admin" }, capture: { admin: { json: "$.user" } } }],
          requests: [{ name: "who", path: "/json?who=${admin}&vu=${vu}&n=${randomInt(1,9)}" }],
          teardown: [{ name: "bye", path: "/json?bye=${admin}" }],
          load: closed(1, 2),
          thresholds: ["[setup] admin: count >= 1"]
        })
        expect(code, stderr).toBe(0)
        expect(paths["/login"]).toBe(1)
        expect(row(doc, "[setup] admin").count).toBe(1)
        expect(row(doc, "[teardown] bye").count).toBe(1)
        expect(doc.total.count).toBe(row(doc, "who").count)
        expect(paths["/json"]).toBe(row(doc, "who").count + 1)
      }), 240_000)

    it.effect("examples/flows.yaml runs with zero errors and its thresholds hold", () =>
      Effect.gen(function*() {
        const target = yield* Target
        yield* Effect.promise(() => fetch(`${target.url}/__reset`, { method: "POST" }))
        const r = yield* grid(["run", join(import.meta.dirname, "..", "examples", "flows.yaml"), "--target", target.url, "--duration", "2", "--users", "4", "--out", "-"])
        expect(r.code, r.stderr).toBe(0)
        const doc = JSON.parse(r.stdout) as Doc
        expect(doc.total.errors).toBe(0)
        expect(row(doc, "shopper/cart").count).toBe(target.stats.paths["/cart"])
        expect(doc.thresholds.every((t) => t.ok)).toBe(true)
      }), 240_000)

    it.effect("grid report on the engine's JTL keeps setup and teardown out of the total too", () =>
      Effect.gen(function*() {
        const file = join(yield* Dir, "phases.jtl")
        const jtl = new JtlWriter(file)
        const at = Date.now()
        const sample = (label: string, i: number) => ({ timestamp: at + i, label, latencyMs: 5, success: true, status: "200", bytesIn: 10, bytesOut: 5, error: undefined })
        jtl.sink(sample("[setup] admin", 0))
        for (let i = 1; i <= 20; i++) jtl.sink(sample("cart", i))
        jtl.sink(sample("[teardown] bye", 21))
        jtl.close()
        const r = yield* grid(["report", file, "--json"])
        expect(r.code, r.stderr).toBe(0)
        const doc = JSON.parse(r.stdout) as Doc
        expect(doc.total.count).toBe(20)
        expect(doc.labels.map((l) => [l.label, l.count])).toEqual(expect.arrayContaining([["[setup] admin", 1], ["cart", 20], ["[teardown] bye", 1]]))
      }), 240_000)

    it.effect("a failed setup stops the run before any load", () =>
      Effect.gen(function*() {
        const { code, stderr, paths } = yield* run("setup-fails", {
          setup: [{ name: "admin", path: "/json", capture: { admin: { json: "$.token" } } }],
          requests: [{ name: "who", path: "/who?a=${admin}" }],
          load: closed(1, 2)
        })
        expect(code).not.toBe(0)
        expect(stderr).toContain("setup failed")
        expect(stderr).toContain("capture admin: $.token not found")
        expect(paths["/who"]).toBeUndefined()
      }), 240_000)
  })

  describe("substituted values are made safe for where they land", () => {
    it("a path percent-encodes spaces and non-ASCII, a header drops CR/LF, a JSON body stays JSON", () => {
      const env = { row: { q: "a b/é%2F" }, vars: { v: "x\r\nevil: 1", j: "say \"hi\"\n" }, vu: 7, iterations: 3 }
      expect(compileTemplate("/s?q=${q}&u=${vu}&i=${iteration}", "path")!(env)).toBe("/s?q=a%20b/%C3%A9%2F&u=7&i=3")
      expect(compileTemplate("Bearer ${v}", "header")!(env)).toBe("Bearer xevil: 1")
      expect(JSON.parse(compileTemplate(JSON.stringify({ msg: "${j}", n: "${randomInt(3,5)}" }), "json")!(env))).toEqual({
        msg: "say \"hi\"\n",
        n: expect.stringMatching(/^[345]$/)
      })
      expect(compileTemplate("/plain", "path")).toBeUndefined()
    })
  })

  describe("flow scenarios are checked whole before anything is sent", () => {
    it.effect("every mistake is listed with its path", () =>
      Effect.gen(function*() {
        const err = yield* Effect.flip(decodeScenario({
          target: "http://127.0.0.1:9",
          requests: [{ name: "a", path: "/" }],
          flows: [
            { name: "f", requests: [{ name: "a", path: "/${later}", capture: { x: { json: "items[0]" }, y: { regex: "(" } } }, { name: "b", path: "/", capture: { later: { header: "x" } } }] },
            { name: "f", weight: 2, requests: [{ name: "c", path: "/", expect: 200, check: { status: 201, json: { "$..bad": 1 } }, capture: { vu: { cookie: "s" } } }] }
          ],
          load: { model: "closed", users: 1, durationSeconds: 1 },
          thresholds: ["f/a: checks > 99%", "f/b: p95 < 1s"]
        }, "inline"))
        expect(err.problems).toEqual(expect.arrayContaining([
          'flows[1].name: "f" is used by another flow',
          "flows: not allowed together with requests (requests is the one-flow shorthand)",
          expect.stringMatching(/^flows\[0\]\.requests\[0\]\.path: uses \$\{later\} but the scenario has no data file/),
          expect.stringMatching(/^flows\[0\]\.requests\[0\]\.capture\.x: "items\[0\]" must start with \$/),
          expect.stringMatching(/^flows\[0\]\.requests\[0\]\.capture\.y: regex "\(": /),
          expect.stringMatching(/^flows\[1\]\.requests\[0\]\.expect: not allowed together with check\.status/),
          expect.stringMatching(/^flows\[1\]\.requests\[0\]\.check\.json: "\$\.\.bad": cannot read/),
          "flows[1].requests[0].capture.vu: is a built-in variable"
        ]))
        // Shape mistakes are listed together too (before the cross-field rules run).
        const shape = yield* Effect.flip(decodeScenario({
          target: "http://127.0.0.1:9",
          flows: [{ name: "f", weight: 0, requests: [{ name: "a", path: "/", capture: { t: { json: "$.a", header: "b" } }, check: { status: 99 } }] }],
          load: { model: "closed", users: 1, durationSeconds: 1 },
          thresholds: ["checks < 5ms"]
        }, "inline"))
        expect(shape.problems).toEqual(expect.arrayContaining([
          expect.stringMatching(/^flows\[0\]\.weight: /),
          expect.stringMatching(/^flows\[0\]\.requests\[0\]\.capture\.t/),
          expect.stringMatching(/^flows\[0\]\.requests\[0\]\.check\.status/),
          expect.stringMatching(/^thresholds\[0\]: .*checks take %/)
        ]))
      }), 240_000)

    it.effect("labels are flow/request with several flows; thresholds may name them", () =>
      Effect.gen(function*() {
        const s = yield* decodeScenario({
          target: "http://127.0.0.1:9",
          setup: [{ name: "token", path: "/login", capture: { t: { header: "x-token" } } }],
          flows: [
            { name: "a", weight: 2, requests: [{ name: "x", path: "/x?t=${t}&id=${uuid}&at=${timestamp}&i=${iteration}" }] },
            { name: "b", requests: [{ name: "x", path: "/x" }] }
          ],
          load: { model: "closed", users: 1, durationSeconds: 1 },
          thresholds: ["a/x: p95 < 1s", "[setup] token: errors < 1"]
        }, "inline")
        expect(s.requests.map((r) => r.name)).toEqual(["a/x", "b/x"])
        expect(s.flows.map((f) => f.weight)).toEqual([2, 1])
        expect(s.setup.map((r) => r.name)).toEqual(["[setup] token"])
        expect(s.cookies).toBe(true)
        expect(typeof parseThreshold("checks > 99.5%")).toBe("object")
      }), 240_000)
  })
})
