// `grid target`, the demo server: per-path latency and error rate from routes, per-request
// overrides from the query string, exact per-path counts at /__stats, and the CLI itself
// serving on the port it was given.
import { spawn } from "node:child_process"
import { createServer } from "node:net"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseRoute, serveTarget } from "../src/engine/TargetServer.ts"

const get = (url: string, init?: RequestInit) => Effect.promise(() => fetch(url, init).then(async (r) => ({ status: r.status, body: await r.text() })))

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

  it("the CLI serves on --port and stops on SIGTERM", async () => {
    const port = await new Promise<number>((ok) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port
        s.close(() => ok(p))
      })
    })
    const child = spawn(process.execPath, [join(import.meta.dirname, "..", "src", "cli", "main.ts"), "target", "--port", String(port), "--route", "/e=0,1"], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    await new Promise<void>((ok) => child.stdout.on("data", (d) => { out += d; if (out.includes("listening")) ok() }))
    expect(out).toContain(`http://127.0.0.1:${port}`)
    expect((await fetch(`http://127.0.0.1:${port}/e`)).status).toBe(500)
    const code = await new Promise<number | null>((ok) => { child.on("close", ok); child.kill("SIGTERM") })
    expect(code).toBe(130)
  })
})
