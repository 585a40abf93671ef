// `grid daemon --http-addr`: health, readiness and Prometheus metrics against the real things.
// A real daemon process over a real nats-server; Debian's `prometheus` scrapes it (on
// 127.0.0.1, a free port, its storage in a temp dir) and its HTTP API is asked what it saw;
// `promtool check metrics` judges the exposition; /readyz follows the NATS server going away
// and coming back.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { launchDaemon } from "./support/daemonProcess.ts"
import { freePort, TestNats } from "./support/natsServer.ts"
import { prometheus, promtoolCheck, tempDir } from "./support/prometheus.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const nodeId = "obs-1"

/** The daemon under test, serving HTTP on a free loopback port: a process of the suite. */
class ObsDaemon extends Context.Service<ObsDaemon, { readonly base: string }>()("test/observability/ObsDaemon") {
  static readonly layer = Layer.effect(ObsDaemon, Effect.gen(function*() {
    const port = yield* Effect.promise(() => freePort())
    yield* launchDaemon(nodeId, { args: ["--channel", "beta"], env: { GRID_HTTP_ADDR: `127.0.0.1:${port}` } })
    return { base: `http://127.0.0.1:${port}` }
  }))
}

const env = ObsDaemon.layer.pipe(Layer.provideMerge(WireClient.layerNats), Layer.provideMerge(TestNats.layer()))

const get = (p: string) =>
  Effect.flatMap(ObsDaemon, ({ base }) =>
    Effect.promise(() => fetch(base + p).then((r) => r.text().then((text) => ({ status: r.status, text })))))
const status = (p: string) => Effect.map(get(p), (r) => r.status)
const sh = (script: string) => ({ command: ["sh", "-c", script] })

describe("grid daemon --http-addr", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("serves /healthz and /readyz, and Prometheus scrapes /metrics after a finished test", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const { base } = yield* ObsDaemon
        expect(yield* status("/healthz")).toBe(200)
        yield* waitUntil("ready", Effect.map(status("/readyz"), (s) => s === 200))
        yield* client.send(nodeId, { kind: "start", testId: "obs-t1", tool: "command", params: sh("true") })
        yield* client.waitEvent("obs-t1", "finished")
        yield* client.send(nodeId, { kind: "stop", testId: "no-such-test" })
        yield* client.waitEvent("no-such-test", "rejected")

        const metrics = (yield* get("/metrics")).text
        for (const line of [
          `grid_build_info{version=`,
          `grid_tests_ended_total{outcome="finished"} 1`,
          `grid_tests_started_total{tool="command",runner="process"} 1`,
          `grid_commands_rejected_total{code="unknown_test"} 1`,
          `grid_test_duration_seconds_count 1`,
          `grid_tests_running 0`,
          `grid_events_pending 0`,
          `grid_nats_connected 1`,
          `grid_node_ready 1`,
          `grid_events_oldest_age_seconds 0`,
          `grid_docker_available `,
          `process_cpu_seconds_total `,
          `process_resident_memory_bytes `
        ]) expect(metrics).toContain(line)
        expect(metrics).toMatch(/grid_build_info\{[^}]*channel="beta"[^}]*node="obs-1"[^}]*\} 1/)
        expect(metrics).not.toContain("obs-t1")

        // promtool's own judgement of the exposition (names, types, HELP, units).
        const checked = promtoolCheck(metrics)
        expect(checked.problems).toBe("")
        expect(checked.status).toBe(0)

        // A real Prometheus scrapes the daemon.
        const prom = yield* prometheus(base.slice("http://".length))
        expect(yield* waitUntil(`Prometheus sees up == 1 (${prom.log().slice(-300)})`, Effect.map(prom.query(`up{job="grid"}`), (v) => (v === 1 ? v : undefined)), "30 seconds")).toBe(1)
        const ended = yield* waitUntil("grid_tests_ended_total in Prometheus", prom.query(`grid_tests_ended_total{outcome="finished"}`), "30 seconds")
        expect(ended).toBeGreaterThanOrEqual(1)
      }), 120_000)

    it.effect("docs/operations.md lists every metric /metrics has, and its alert rules pass promtool check rules", () =>
      Effect.gen(function*() {
        const doc = fs.readFileSync(path.resolve(import.meta.dirname, "../docs/operations.md"), "utf8")
        const exposed = [...(yield* get("/metrics")).text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!)
        expect(exposed.length).toBeGreaterThanOrEqual(12)
        for (const name of exposed) expect(doc, name).toContain(`| \`${name}\` |`)
        const rules = [...doc.matchAll(/```yaml\n(groups:[\s\S]*?)```/g)].map((m) => m[1]!)
        expect(rules).toHaveLength(1)
        const dir = yield* tempDir("grid-rules-")
        fs.writeFileSync(path.join(dir, "rules.yml"), rules[0]!)
        const checked = spawnSync("promtool", ["check", "rules", path.join(dir, "rules.yml")], { encoding: "utf8" })
        expect(checked.status, checked.stdout + checked.stderr).toBe(0)
        expect(checked.stdout).toContain("SUCCESS: 5 rules found")
      }))

    it.effect("/readyz turns 503 with its reason within 5 s of NATS going away, and 200 once it is back", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        yield* waitUntil("ready", Effect.map(status("/readyz"), (s) => s === 200))
        // The server comes back when this scope closes, whatever happened in it.
        yield* Effect.scoped(Effect.gen(function*() {
          yield* Effect.acquireRelease(Effect.promise(() => nats.kill()), () => Effect.promise(() => nats.start()))
          const down = yield* waitUntil("503", Effect.map(get("/readyz"), (r) => (r.status === 503 ? r : undefined)), "5 seconds")
          expect(JSON.parse(down.text)).toMatchObject({ ready: false, node: nodeId, reasons: expect.arrayContaining(["NATS is not connected"]) })
          expect(yield* status("/healthz")).toBe(200)
          const metrics = (yield* get("/metrics")).text
          expect(metrics).toContain("grid_nats_connected 0")
          expect(metrics).toContain("grid_node_ready 0")
        }))
        yield* waitUntil("ready again", Effect.map(status("/readyz"), (s) => s === 200), "30 seconds")
        expect((yield* get("/metrics")).text).toMatch(/grid_nats_reconnects_total [1-9]/)
      }), 60_000)
  })
})
