// The built-in engine as a library against a real local target (TargetServer on
// 127.0.0.1): scenario validation lists every problem before any request; the closed and
// open models send the intended number of requests (the target counts them, the samples
// agree); dropped arrivals are counted; an unreachable target fails fast; interruption
// aborts in flight and leaves no connection open.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer as createHttpsServer } from "node:https"
import { type AddressInfo, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import type { Sample } from "../src/ingest/Sample.ts"
import { newStatus, runEngine } from "../src/engine/Engine.ts"
import { decodeScenario, loadScenario } from "../src/engine/ScenarioLoader.ts"
import { serveTarget } from "../src/engine/TargetServer.ts"
import { arrivalSchedule, closedProfile, openProfile } from "../src/engine/LoadModels.ts"
import { evaluateThresholds } from "../src/engine/Thresholds.ts"

// A self-signed P-256 certificate for 127.0.0.1 (100 years), for the https test only.
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgc7rDle2YU39JsmVM
Mt1czBWr0Qme0aKEq9dJZ39H/zmhRANCAAQAQXeA6jN2/d834ogGa4o7i2zU/DiI
M9755TCJ4t/DusRfuRzsfKZXs5P0OfkgCXZdd7ZrxdLJxRoeaK3Xz2Ge
-----END PRIVATE KEY-----`
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBkTCCATagAwIBAgIUd2A0GHqYr3Z9LxPDd4jsAld7g+EwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyNjE4MzU1NVoYDzIxMjYxMTAy
MTgzNTU1WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQAQXeA6jN2/d834ogGa4o7i2zU/DiIM9755TCJ4t/DusRfuRzsfKZX
s5P0OfkgCXZdd7ZrxdLJxRoeaK3Xz2Geo2QwYjAdBgNVHQ4EFgQUQN5kv2RsABET
EaEaW9nOweAi0uwwHwYDVR0jBBgwFoAUQN5kv2RsABETEaEaW9nOweAi0uwwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0kAMEYC
IQDAILyRjJJvzxdfsgNejOYkejT9ihsxhafQWUpvVupNoAIhAN1cVYS0K4lfLjKv
CZUBEum/BsNdw8khHJKwIFZTT3j8
-----END CERTIFICATE-----`

const target = serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} })

const collect = () => {
  const samples: Array<Sample> = []
  return { samples, sink: (s: Sample) => void samples.push(s) }
}

describe("scenario validation", () => {
  it.effect("lists every problem with its path, schema and cross-field alike", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(decodeScenario({
        target: "ftp://nowhere",
        requests: [{ name: "a", path: "relative", metod: "GET" }, { name: "", path: "/x", expect: "200" }],
        load: { model: "closed", users: 0, durationSeconds: -1 },
        thresholds: ["p95 < 3 parsecs"]
      }, "inline"))
      expect(err._tag).toBe("ScenarioError")
      expect(err.problems).toEqual(expect.arrayContaining([
        expect.stringMatching(/^target: .*not an http\(s\) URL/),
        expect.stringMatching(/^requests\[0\]\.metod: /),
        expect.stringMatching(/^requests\[0\]\.path: .*must start with \//),
        expect.stringMatching(/^requests\[1\]\.name: /),
        expect.stringMatching(/^requests\[1\]\.expect: /),
        expect.stringMatching(/^load\.users: /),
        expect.stringMatching(/^load\.durationSeconds: /),
        expect.stringMatching(/^thresholds\[0\]: cannot parse/)
      ]))
      const cross = yield* Effect.flip(decodeScenario({
        target: "http://127.0.0.1:1",
        requests: [{ name: "a", path: "/u/${id}" }],
        load: { model: "closed", users: 2, rampUpSeconds: 5, durationSeconds: 2, stages: [{ durationSeconds: 1, users: 1 }] },
        thresholds: ["nobody: p95 < 10ms"]
      }, "inline"))
      expect(cross.problems).toEqual(expect.arrayContaining([
        expect.stringMatching(/^requests\[0\]\.path: uses \$\{id\} but the scenario has no data file/),
        expect.stringMatching(/^load\.users: not allowed together with load\.stages/),
        expect.stringMatching(/^thresholds\[0\]: no request is named "nobody"/)
      ]))
    }))

  it.effect("reads YAML, a CSV data file and applies overrides", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "grid-engine-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      writeFileSync(join(dir, "users.csv"), "id,name\n1,\"Ann, A\"\n2,Bob\n")
      writeFileSync(join(dir, "s.yaml"), [
        "target: http://127.0.0.1:9",
        "data: { file: users.csv }",
        "requests:",
        "  - { name: user, path: '/u/${id}', headers: { x-name: '${name}' } }",
        "load: { model: closed, users: 3, durationSeconds: 10 }",
        "thresholds: ['p95 < 300ms', 'user: errors < 1%', 'rps > 1']"
      ].join("\n"))
      const s = yield* loadScenario(join(dir, "s.yaml"), { durationSeconds: 2, rate: 5 })
      expect(s.data).toEqual([{ id: "1", name: "Ann, A" }, { id: "2", name: "Bob" }])
      expect(s.load).toMatchObject({ model: "open", rate: 5, durationSeconds: 2 })
      expect(s.durationMs).toBe(2000)
      expect(s.thresholds.map((t) => [t.label, t.metric, t.op, t.value])).toEqual([
        ["*", "p95", "<", 300], ["user", "errors", "<", 1], ["*", "rps", ">", 1]
      ])
    }).pipe(Effect.provide(NodeServices.layer)))
})

describe("thresholds", () => {
  it("evaluate as a pure function over a summary", () => {
    const lat = { min: 1, mean: 5, p50: 4, p90: 8, p95: 9, p99: 20, max: 40 }
    const total = { label: "*", count: 200, errors: 4, bytesIn: 0, bytesOut: 0, rps: 100, latencyMs: lat, status: {} }
    const parsed = ["p95 < 10ms", "errors < 1%", "rps >= 100", "p99 < 0.01s", "errors <= 4"].map((src) =>
      Effect.runSync(decodeScenario({ target: "http://h", requests: [{ name: "a", path: "/" }], load: { model: "open", rate: 1, durationSeconds: 1 }, thresholds: [src] }, "x")).thresholds[0]!
    )
    expect(evaluateThresholds(parsed, { total, labels: [] }).map((r) => [r.threshold, r.ok, r.actual])).toEqual([
      ["p95 < 10ms", true, 9], ["errors < 1%", false, 2], ["rps >= 100", true, 100], ["p99 < 0.01s", false, 20], ["errors <= 4", true, 4]
    ])
  })
})

describe("load profiles", () => {
  it("ramp users linearly from 0, then hold; stages interpolate from the previous target", () => {
    const ramp = closedProfile({ model: "closed", users: 10, rampUpSeconds: 2, durationSeconds: 5 })
    expect([0, 500, 1000, 2000, 4000].map(ramp)).toEqual([0, 2.5, 5, 10, 10])
    const stages = closedProfile({ model: "closed", stages: [{ durationSeconds: 1, users: 4 }, { durationSeconds: 2, users: 4 }, { durationSeconds: 1, users: 0 }] })
    expect([0, 500, 1000, 2500, 3500, 4000, 9000].map(stages)).toEqual([0, 2, 4, 4, 2, 0, 0])
    const rate = openProfile({ model: "open", stages: [{ durationSeconds: 2, rate: 100 }, { durationSeconds: 1, rate: 20 }] })
    expect([0, 1000, 2000, 2500].map(rate)).toEqual([0, 50, 100, 60])
    expect(openProfile({ model: "open", rate: 7, durationSeconds: 1 })(123)).toBe(7)
  })

  it("schedule open-model arrivals by the rate's integral, ramps included", () => {
    const all = (next: () => number) => {
      const out: Array<number> = []
      for (let t = next(); t !== Infinity; t = next()) out.push(t)
      return out
    }
    expect(all(arrivalSchedule({ model: "open", rate: 4, durationSeconds: 1 }, 1000))).toEqual([0, 250, 500, 750])
    // 0 -> 100/s over 2 s: 100 arrivals, the k-th at sqrt(k/25) s; then 100/s for 1 s: 100 more.
    const ramp = all(arrivalSchedule({ model: "open", stages: [{ durationSeconds: 2, rate: 100 }, { durationSeconds: 1, rate: 100 }] }, 3000))
    expect(ramp.length).toBe(200)
    expect(ramp[25]).toBeCloseTo(1000, 6)
    expect(ramp[100]).toBeCloseTo(2000, 6)
    expect(ramp[150]).toBeCloseTo(2500, 6)
    const down = all(arrivalSchedule({ model: "open", stages: [{ durationSeconds: 1, rate: 10 }, { durationSeconds: 1, rate: 0 }] }, 2000))
    expect(down.length).toBe(10)
  })
})

const scenarioFor = (url: string, raw: Record<string, unknown>) =>
  decodeScenario({ target: url, requests: [{ name: "hit", path: "/hit" }], ...raw }, "inline")

describe("load models against a real target", () => {
  it.live("closed model: users x iterations requests, counted by the target and by the samples", () =>
    Effect.gen(function*() {
      const t = yield* target
      // 4 users, 300 ms think time, 1 s: requests at ~0, 300, 600, 900 ms per user.
      const s = yield* scenarioFor(t.url, {
        requests: [{ name: "hit", path: "/hit", thinkTimeMs: 300 }],
        load: { model: "closed", users: 4, durationSeconds: 1 }
      })
      const { samples, sink } = collect()
      yield* runEngine(s, sink)
      expect(t.stats.paths["/hit"]).toBe(16)
      expect(samples.length).toBe(16)
      expect(samples.every((x) => x.success && x.status === "200" && x.bytesIn > 0 && x.bytesOut > 0)).toBe(true)
      yield* Effect.sleep(Duration.millis(100))
      expect(t.connections()).toBe(0)
    }))

  it.live("open model: rate x duration arrivals, all sent when connections suffice", () =>
    Effect.gen(function*() {
      const t = yield* target
      const s = yield* scenarioFor(t.url, { load: { model: "open", rate: 50, durationSeconds: 2 } })
      const { samples, sink } = collect()
      const status = newStatus()
      yield* runEngine(s, sink, status)
      expect(t.stats.paths["/hit"]).toBe(100)
      expect(samples.length).toBe(100)
      expect(status.dropped).toBe(0)
    }))

  it.live("open model with stages: arrivals follow the rate's integral", () =>
    Effect.gen(function*() {
      const t = yield* target
      // 0 -> 60/s over 1 s (30 arrivals), then 60/s for 1 s (60 arrivals).
      const s = yield* scenarioFor(t.url, { load: { model: "open", stages: [{ durationSeconds: 1, rate: 60 }, { durationSeconds: 1, rate: 60 }] } })
      const { samples, sink } = collect()
      yield* runEngine(s, sink)
      expect(samples.length).toBe(t.stats.paths["/hit"])
      expect(samples.length).toBeGreaterThanOrEqual(88)
      expect(samples.length).toBeLessThanOrEqual(92)
      const firstHalf = samples.filter((x) => x.timestamp - samples[0]!.timestamp < 1000).length
      expect(firstHalf).toBeGreaterThanOrEqual(26)
      expect(firstHalf).toBeLessThanOrEqual(34)
    }))

  it.live("open model: arrivals finding every connection busy are dropped and counted, not skipped", () =>
    Effect.gen(function*() {
      const t = yield* target
      // One connection, 100 ms per response, 50 arrivals/s: about 1 in 5 can be sent.
      const s = yield* scenarioFor(t.url, {
        requests: [{ name: "hit", path: "/hit?latency=100" }],
        load: { model: "open", rate: 50, durationSeconds: 1, maxConnections: 1 }
      })
      const { samples, sink } = collect()
      const status = newStatus()
      yield* runEngine(s, sink, status)
      const sent = t.stats.paths["/hit"]!
      const dropped = samples.filter((x) => x.status === "dropped")
      expect(samples.length).toBe(50)
      expect(dropped.length).toBe(status.dropped)
      expect(sent + dropped.length).toBe(50)
      expect(sent).toBeGreaterThan(5)
      expect(dropped.length).toBeGreaterThan(25)
      expect(dropped.every((x) => !x.success && Number.isNaN(x.latencyMs))).toBe(true)
    }))

  it.live("variables from the data file reach the target; unexpected statuses are errors", () =>
    Effect.gen(function*() {
      const t = yield* target
      const s = yield* decodeScenario({
        target: t.url,
        data: { file: "rows.csv" },
        requests: [
          { name: "item", path: "/item/${id}", method: "POST", body: { id: "${id}" }, thinkTimeMs: 200 },
          { name: "teapot", path: "/tea?status=418", expect: 200, thinkTimeMs: 200 }
        ],
        // requests at ~0, 200, 400, 600 ms
        load: { model: "closed", users: 1, durationSeconds: 0.7 }
      }, "inline", {}, () => Effect.succeed("id\na\nb\n"))
      const { samples, sink } = collect()
      yield* runEngine(s, sink)
      expect(t.stats.paths).toMatchObject({ "/item/a": 1, "/item/b": 1, "/tea": 2 })
      expect(t.stats.bytesIn).toBe(2 * '{"id":"a"}'.length)
      expect(samples.filter((x) => x.label === "teapot").every((x) => !x.success && x.error === "unexpected status 418")).toBe(true)
    }))

  it.live("handles Connection: close, chunked bodies and HEAD; a slow answer fails as a timeout", () =>
    Effect.gen(function*() {
      const t = yield* target
      const s = yield* decodeScenario({
        target: t.url,
        timeoutSeconds: 0.3,
        requests: [
          { name: "close", path: "/c?close=1" },
          { name: "chunked", path: "/k?chunked=1" },
          { name: "head", path: "/h", method: "HEAD" },
          { name: "late", path: "/late?latency=1000", thinkTimeMs: 1000 }
        ],
        load: { model: "closed", users: 1, durationSeconds: 0.5 }
      }, "inline")
      const { samples, sink } = collect()
      yield* runEngine(s, sink)
      const by = (l: string) => samples.filter((x) => x.label === l)
      expect(by("close").length).toBe(1)
      expect(by("chunked")[0]).toMatchObject({ success: true, status: "200" })
      expect(by("chunked")[0]!.bytesIn).toBeGreaterThan(2 * 23)
      expect(by("head")[0]).toMatchObject({ success: true, status: "200" })
      expect(by("late")[0]).toMatchObject({ success: false, status: "Non HTTP response code: timeout", error: "timeout" })
      expect(by("late")[0]!.latencyMs).toBeGreaterThanOrEqual(290)
      expect(by("late")[0]!.latencyMs).toBeLessThan(900)
      expect(t.stats.paths).toMatchObject({ "/c": 1, "/k": 1, "/h": 1, "/late": 1 })
    }))

  it.live("a request that finds its kept-alive connection closed is resent once on a new one, not counted as an error", () =>
    Effect.gen(function*() {
      // Each connection answers one request, then closes on the next without answering:
      // what a server whose keep-alive timer fires as the request arrives looks like.
      let served = 0
      const server = createServer((socket) => {
        let n = 0
        socket.on("data", () => {
          if (n++ > 0) return void socket.destroy()
          served++
          socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        })
      })
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const s = yield* scenarioFor(url, { requests: [{ name: "hit", path: "/", thinkTimeMs: 20 }], load: { model: "closed", users: 2, durationSeconds: 0.5 } })
      const { samples, sink } = collect()
      yield* runEngine(s, sink)
      expect(samples.length).toBeGreaterThan(6)
      expect(samples.filter((x) => !x.success)).toEqual([])
      expect(served).toBe(samples.length)
    }))

  it.live("speaks https through tls sockets", () =>
    Effect.gen(function*() {
      let served = 0
      const server = createHttpsServer({ key: TEST_KEY, cert: TEST_CERT }, (_req, res) => {
        served++
        res.end("secure")
      })
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.callback<void>((resume) => { server.close(() => resume(Effect.void)); server.closeAllConnections() })
      )
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
      const s = yield* scenarioFor(url, { requests: [{ name: "tls", path: "/", thinkTimeMs: 200 }], load: { model: "closed", users: 2, durationSeconds: 0.9 } })
      const { samples, sink } = collect()
      yield* runEngine(s, sink)
      expect(samples.length).toBe(10)
      expect(samples.every((x) => x.success && x.bytesIn > 0)).toBe(true)
      expect(served).toBe(10)
    }))

  it.live("an unreachable target fails fast with the connection error, before any sample", () =>
    Effect.gen(function*() {
      const s = yield* scenarioFor("http://127.0.0.1:1", { load: { model: "closed", users: 5, durationSeconds: 30 } })
      const { samples, sink } = collect()
      const started = Date.now()
      const err = yield* Effect.flip(runEngine(s, sink))
      expect(err.code).toBe("unreachable")
      expect(err.message).toMatch(/ECONNREFUSED/)
      expect(Date.now() - started).toBeLessThan(2000)
      expect(samples.length).toBe(0)
    }))

  it.live("interruption aborts in-flight requests and closes every connection", () =>
    Effect.gen(function*() {
      const t = yield* target
      const s = yield* scenarioFor(t.url, {
        requests: [{ name: "slow", path: "/slow?latency=5000" }],
        load: { model: "closed", users: 5, durationSeconds: 30 }
      })
      const { samples, sink } = collect()
      const fiber = yield* Effect.forkChild(runEngine(s, sink))
      yield* Effect.sleep(Duration.millis(500))
      expect(t.connections()).toBe(5)
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep(Duration.millis(100))
      expect(t.connections()).toBe(0)
      expect(samples.length).toBe(0)
    }))
})
