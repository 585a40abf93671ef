// `grid target`, the demo server: per-path latency and error rate from routes, per-request
// overrides from the query string, exact per-path counts at /__stats, and the CLI itself
// serving on the port it was given.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseRoute, serveTarget } from "../src/engine/TargetServer.ts"
import { spawnGrid } from "./support/gridCli.ts"
import { freePort } from "./support/natsServer.ts"
import { waitUntil } from "./support/WireClient.ts"

const get = (url: string, init?: RequestInit) =>
  Effect.promise(() => fetch(url, init).then((r) => r.text().then((body) => ({ status: r.status, body }))))

describe("grid target", () => {
  it("parses routes and rejects malformed ones", () => {
    expect(parseRoute("/slow=200,0.05")).toEqual(["/slow", { latencyMs: 200, errorRate: 0.05 }])
    expect(parseRoute("/x=5")).toEqual(["/x", { latencyMs: 5, errorRate: 0 }])
    expect(parseRoute("slow=abc")).toMatch(/bad route/)
    expect(parseRoute("/x=5,1.5")).toMatch(/bad route/)
  })

  it.live("applies per-path latency and error rate, counts every request per path", () =>
    Effect.gen(function*() {
      const t = yield* serveTarget({
        port: 0,
        host: "127.0.0.1",
        defaults: { latencyMs: 0, errorRate: 0 },
        routes: { "/broken": { latencyMs: 0, errorRate: 1 }, "/slow": { latencyMs: 150, errorRate: 0 } }
      })
      expect((yield* get(`${t.url}/`)).status).toBe(200)
      expect((yield* get(`${t.url}/broken`)).status).toBe(500)
      const started = Date.now()
      expect((yield* get(`${t.url}/slow`)).status).toBe(200)
      expect(Date.now() - started).toBeGreaterThanOrEqual(140)
      expect((yield* get(`${t.url}/q?status=404`)).status).toBe(404)
      const stats = JSON.parse((yield* get(`${t.url}/__stats`)).body)
      expect(stats).toMatchObject({ total: 4, paths: { "/": 1, "/broken": 1, "/slow": 1, "/q": 1 }, methods: { GET: 4 } })
      expect((yield* get(`${t.url}/__reset`, { method: "POST" })).status).toBe(204)
      expect(t.stats.total).toBe(0)
    }))

  it.live("the CLI serves on --port and stops on SIGTERM", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      const child = yield* spawnGrid(["target", "--port", String(port), "--route", "/e=0,1"])
      yield* waitUntil("listening", Effect.sync(() => child.stdout().includes("listening")))
      expect(child.stdout()).toContain(`http://127.0.0.1:${port}`)
      expect((yield* get(`http://127.0.0.1:${port}/e`)).status).toBe(500)
      child.child.kill("SIGTERM")
      expect(yield* child.exited).toBe(130)
    }))
})
