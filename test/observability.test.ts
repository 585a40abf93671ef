// `grid daemon --http-addr`: health, readiness and Prometheus metrics against the real things.
// A real daemon process over a real nats-server; Debian's `prometheus` scrapes it (on
// 127.0.0.1, a free port, its storage in a temp dir) and its HTTP API is asked what it saw;
// `promtool check metrics` judges the exposition; /readyz follows the NATS server going away
// and coming back.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { freePort, type NatsServer, startNatsServer } from "./support/natsServer.ts"

interface DaemonProcess {
  readonly child: ReturnType<typeof spawn>
  readonly output: () => string
  readonly exited: Promise<number | null>
}
/** A real `grid daemon` process (Node 24), its output captured. */
const spawnDaemon = (args: ReadonlyArray<string>, env: Record<string, string>): DaemonProcess => {
  const root = path.resolve(import.meta.dirname, "..")
  const child = spawn(path.join(root, "node_modules/.bin/node"), [path.join(root, "src/cli/main.ts"), "daemon", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let out = ""
  child.stdout!.on("data", (b) => (out += b))
  child.stderr!.on("data", (b) => (out += b))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, output: () => out, exited }
}

let nats: NatsServer
let client: GridClient
let d: DaemonProcess
let base: string
const nodeId = "obs-1"

beforeAll(async () => {
  nats = await startNatsServer()
  client = await gridClient(nats.url)
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  d = spawnDaemon([
    "--nats-url", nats.url, "--node-id", nodeId, "--work-dir", tempWorkRoot(), "--heartbeat-interval", "500ms", "--channel", "beta"
  ], { GRID_HTTP_ADDR: `127.0.0.1:${port}` })
  await Promise.race([
    waitUntil(`heartbeat of ${nodeId}`, () => client.heartbeat(nodeId)),
    d.exited.then((code) => {
      throw new Error(`daemon exited ${code}: ${d.output()}`)
    })
  ])
}, 60_000)
afterAll(async () => {
  d?.child.kill("SIGTERM")
  await d?.exited
  await client?.close()
  await nats?.close()
})

const get = async (p: string) => {
  const r = await fetch(base + p)
  return { status: r.status, text: await r.text() }
}
const sh = (script: string) => ({ command: ["sh", "-c", script] })

describe("grid daemon --http-addr", () => {
  it("serves /healthz and /readyz, and Prometheus scrapes /metrics after a finished test", async () => {
    expect((await get("/healthz")).status).toBe(200)
    await waitUntil("ready", async () => ((await get("/readyz")).status === 200 ? true : undefined))
    await client.send(nodeId, { kind: "start", testId: "obs-t1", tool: "command", params: sh("true") })
    await waitUntil("finished", () => client.eventsOf("obs-t1").find((e) => e.kind === "finished"))
    await client.send(nodeId, { kind: "stop", testId: "no-such-test" })
    await client.waitEvent("no-such-test", "rejected")

    const metrics = (await get("/metrics")).text
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
    const checked = spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8" })
    expect(checked.stdout + checked.stderr).toBe("")
    expect(checked.status).toBe(0)

    // A real Prometheus scrapes the daemon.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-prom-"))
    const promPort = await freePort()
    fs.writeFileSync(path.join(dir, "prometheus.yml"), [
      "global:",
      "  scrape_interval: 1s",
      "scrape_configs:",
      "  - job_name: grid",
      "    static_configs:",
      `      - targets: ["${base.slice("http://".length)}"]`,
      ""
    ].join("\n"))
    const prom = spawn("prometheus", [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${promPort}`
    ], { stdio: ["ignore", "ignore", "pipe"] })
    let promLog = ""
    prom.stderr!.on("data", (b) => (promLog += b))
    const promExited = new Promise((r) => prom.once("exit", r))
    const query = async (q: string): Promise<number | undefined> => {
      try {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`)
        const body = (await r.json()) as { data?: { result?: Array<{ value: [number, string] }> } }
        const v = body.data?.result?.[0]?.value[1]
        return v === undefined ? undefined : Number(v)
      } catch {
        return undefined
      }
    }
    try {
      expect(await waitUntil(`Prometheus sees up == 1 (${promLog.slice(-300)})`, () => query(`up{job="grid"}`).then((v) => (v === 1 ? v : undefined)), 30_000)).toBe(1)
      const ended = await waitUntil("grid_tests_ended_total in Prometheus", () => query(`grid_tests_ended_total{outcome="finished"}`), 30_000)
      expect(ended).toBeGreaterThanOrEqual(1)
    } finally {
      prom.kill("SIGTERM")
      await promExited
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("docs/operations.md lists every metric /metrics has, and its alert rules pass promtool check rules", async () => {
    const doc = fs.readFileSync(path.resolve(import.meta.dirname, "../docs/operations.md"), "utf8")
    const exposed = [...(await get("/metrics")).text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!)
    expect(exposed.length).toBeGreaterThanOrEqual(12)
    for (const name of exposed) expect(doc, name).toContain(`| \`${name}\` |`)
    const rules = [...doc.matchAll(/```yaml\n(groups:[\s\S]*?)```/g)].map((m) => m[1]!)
    expect(rules).toHaveLength(1)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-rules-"))
    try {
      fs.writeFileSync(path.join(dir, "rules.yml"), rules[0]!)
      const checked = spawnSync("promtool", ["check", "rules", path.join(dir, "rules.yml")], { encoding: "utf8" })
      expect(checked.status, checked.stdout + checked.stderr).toBe(0)
      expect(checked.stdout).toContain("SUCCESS: 5 rules found")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("/readyz turns 503 with its reason within 5 s of NATS going away, and 200 once it is back", async () => {
    await waitUntil("ready", async () => ((await get("/readyz")).status === 200 ? true : undefined))
    await nats.kill()
    try {
      const down = await waitUntil("503", async () => {
        const r = await get("/readyz")
        return r.status === 503 ? r : undefined
      }, 5_000)
      expect(JSON.parse(down.text)).toMatchObject({ ready: false, node: nodeId, reasons: expect.arrayContaining(["NATS is not connected"]) })
      expect((await get("/healthz")).status).toBe(200)
      const metrics = (await get("/metrics")).text
      expect(metrics).toContain("grid_nats_connected 0")
      expect(metrics).toContain("grid_node_ready 0")
    } finally {
      await nats.start()
    }
    await waitUntil("ready again", async () => ((await get("/readyz")).status === 200 ? true : undefined), 30_000)
    expect((await get("/metrics")).text).toMatch(/grid_nats_reconnects_total [1-9]/)
  }, 60_000)
})
