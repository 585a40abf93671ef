// The single executable on a machine that has nothing else: dist/grid copied alone into an
// empty directory, run with a PATH that holds only `sh` and `date` (no node, no npm, no
// node_modules anywhere near it), as a daemon against a real nats-server. A `command` test and
// a built-in engine test run through it with exact counts; the engine is dist/grid itself.
// Also: `grid version --json`, and bin/grid.js on an older Node saying which Node it needs.
import { it, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect } from "vitest"
import { ensureBinary } from "./support/binary.ts"
import { exitOf, spawnCommandScoped } from "./support/daemonProcess.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

/** dist/grid alone in an empty directory, with a PATH of only `sh` and `date`; removed with the suite. */
class Alone extends Context.Service<Alone, { readonly dir: string; readonly grid: string; readonly env: Record<string, string> }>()("test/binary/Alone") {
  static readonly layer = Layer.effect(Alone, Effect.acquireRelease(
    Effect.sync(() => {
      const built = ensureBinary()
      const dir = mkdtempSync(join(tmpdir(), "grid-binary-"))
      mkdirSync(join(dir, "app"))
      mkdirSync(join(dir, "path"))
      const grid = join(dir, "app", "grid")
      copyFileSync(built, grid)
      for (const tool of ["sh", "date"]) symlinkSync(execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), join(dir, "path", tool))
      const env = { PATH: join(dir, "path"), HOME: dir, TMPDIR: join(dir, "tmp") }
      mkdirSync(env.TMPDIR)
      return { dir, grid, env }
    }),
    ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ))
}

const env = Layer.mergeAll(Alone.layer, WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer())))

const terminalOf = (testId: string) => Effect.flatMap(WireClient, (client) => client.terminalOf(testId, "60 seconds"))

/** A tiny target on 127.0.0.1 that counts what it served, closed with the scope. */
const countingServer = Effect.acquireRelease(
  Effect.callback<{ server: Server; served: () => number; port: number }>((resume) => {
    let served = 0
    const server = createServer((_req, res) => {
      served++
      res.end("ok")
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, served: () => served, port: (server.address() as { port: number }).port })))
  }),
  ({ server }) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
)

describe("dist/grid alone", () => {
  layer(env, { excludeTestServices: true, timeout: "240 seconds" })((it) => {
    it.effect("is the only file in its directory, and no node is on its PATH", () =>
      Effect.gen(function*() {
        const { dir, env } = yield* Alone
        expect(readdirSync(join(dir, "app"))).toEqual(["grid"])
        expect(spawnSync("sh", ["-c", "command -v node || echo none"], { env, encoding: "utf8" }).stdout.trim()).toBe("none")
      }))

    it.effect("says its version, commit, Node version and build time", () =>
      Effect.gen(function*() {
        const { dir, env, grid } = yield* Alone
        const out = spawnSync(grid, ["version", "--json"], { env, cwd: dir, encoding: "utf8" })
        expect(out.status).toBe(0)
        const info = JSON.parse(out.stdout)
        expect(info).toMatchObject({ version: "0.1.0", build: "binary" })
        expect(info.node).toMatch(/^v24\./)
        expect(info.commit).toMatch(/^[0-9a-f]{40}$|^unknown$/)
        expect(Number.isNaN(Date.parse(info.builtAt))).toBe(false)
        expect(spawnSync(grid, ["--version"], { env, encoding: "utf8" }).stdout).toBe("grid v0.1.0\n")
      }))

    it.effect("loads every subcommand from inside itself (no module may look for files beside the code)", () =>
      Effect.gen(function*() {
        const { dir, env, grid } = yield* Alone
        for (const sub of ["daemon", "run", "engine", "target", "convert", "report", "nodes", "launch", "stop", "results", "version"]) {
          const r = spawnSync(grid, [sub, "--help"], { env, cwd: dir, encoding: "utf8" })
          expect({ sub, status: r.status, stderr: r.stderr }).toEqual({ sub, status: 0, stderr: "" })
          expect(r.stdout).toContain(`grid ${sub}`)
        }
      }))

    it.effect("writes the HTML report with the dashboard page's scripts from inside itself", () =>
      Effect.gen(function*() {
        const { dir, env, grid } = yield* Alone
        const html = join(dir, "report.html")
        const jtl = join(import.meta.dirname, "fixtures", "ingest", "jmeter213-noheader.jtl")
        const r = spawnSync(grid, ["report", jtl, "--html", html], { env, cwd: dir, encoding: "utf8" })
        expect(r.status, r.stderr).toBe(0)
        const text = readFileSync(html, "utf8")
        // uPlot, the page's own (minified) scripts and the data, all inline.
        expect(text).toContain("uPlot")
        expect(text).toContain("GridDash")
        expect(text).toMatch(/<script id="grid-data" type="application\/json">\{"meta":\{"kind":"report"/)
        expect(text).not.toMatch(/<(script|link)[^>]+(src|href)=["']?https?:/i)
      }))

    it.effect("runs as a daemon: a command test and a built-in engine test, with exact counts", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const { dir, env, grid } = yield* Alone
        const node = "binary-node"
        const daemon = yield* spawnCommandScoped(grid, ["daemon", "--nats-url", nats.url, "--node-id", node, "--work-dir", join(dir, "work"), "--heartbeat-interval", "500ms"], { cwd: dir, env })
        const target = yield* countingServer
        const exitedEarly = Effect.flatMap(exitOf(daemon), (code) => Effect.die(new Error(`daemon exited ${code}: ${daemon.output()}`)))
        const hb = yield* Effect.raceFirst(waitUntil(`heartbeat of ${node}`, client.heartbeat(node)), exitedEarly)
        expect(hb).toMatchObject({ version: "0.1.0" })
        expect(hb.tools).toEqual(expect.arrayContaining(["command", "builtin"]))

        // `command`: a shell script writes a JMeter CSV of exactly 37 samples.
        const header = "timeStamp,elapsed,label,responseCode,success,bytes,sentBytes,Latency"
        const script = `now=$(($(date +%s%N)/1000000)); { echo '${header}'; i=0; while [ $i -lt 37 ]; do echo "$now,$((i % 9 + 1)),step-$((i % 3)),200,true,10,5,1"; i=$((i+1)); done; } > r.jtl`
        yield* client.send(node, { kind: "start", testId: "bin-command", tool: "command", params: { command: ["sh", "-c", script], results: { path: "r.jtl", format: "jmeter" } } })
        const cmd = yield* terminalOf("bin-command")
        expect(cmd).toMatchObject({ kind: "finished", summary: { count: 37, errors: 0 } })
        const cmdWindows = yield* client.results("bin-command")
        expect(cmdWindows.flatMap((w) => w.labels.filter((l) => l.label === "*")).reduce((n, l) => n + l.count, 0)).toBe(37)

        // `builtin`: the engine is `dist/grid engine`, started by the daemon from its own path, as
        // two workers that are dist/grid again (`grid engine --worker i/2`), one JTL between them.
        const scenario = { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 40, durationSeconds: 2 } }
        yield* client.send(node, {
          kind: "start",
          testId: "bin-builtin",
          tool: "builtin",
          entry: "scenario.json",
          files: [{ path: "scenario.json", content: JSON.stringify(scenario) }],
          params: { target: `http://127.0.0.1:${target.port}`, workers: 2 }
        })
        const started = yield* client.waitEvent("bin-builtin", "started", "30 seconds")
        expect(started.pid).toBeTypeOf("number")
        const engine = yield* terminalOf("bin-builtin")
        expect(engine.kind, JSON.stringify(engine)).toBe("finished")
        const served = target.served()
        expect(served).toBeGreaterThanOrEqual(60)
        expect(engine.summary).toMatchObject({ count: served, errors: 0 })
        const windows = yield* client.results("bin-builtin")
        expect(windows.flatMap((w) => w.labels.filter((l) => l.label === "*")).reduce((n, l) => n + l.count, 0)).toBe(served)

        // SIGTERM stops it cleanly (exit 0, heartbeat removed), as under systemd or docker stop.
        daemon.child.kill("SIGTERM")
        expect(yield* exitOf(daemon)).toBe(0)
        expect(yield* client.heartbeat(node)).toBeUndefined()
      }), 120_000)
  })
})

describe("bin/grid.js on an older Node", () => {
  it.effect("says which Node it needs instead of failing on a .ts extension", () =>
    Effect.sync(() => {
      // The machine's own node is older than 24 (the project brings 24 as a devDependency).
      const old = "/usr/bin/node"
      expect(existsSync(old), "an older system Node at /usr/bin/node").toBe(true)
      const version = execFileSync(old, ["--version"], { encoding: "utf8" }).trim()
      expect(Number(version.slice(1).split(".")[0])).toBeLessThan(24)
      const r = spawnSync(old, [join(import.meta.dirname, "../bin/grid.js"), "--version"], { encoding: "utf8" })
      expect(r.status).toBe(1)
      expect(r.stderr).toContain("grid needs Node.js 24 or newer")
      expect(r.stderr).toContain(version)
      expect(r.stderr).not.toContain("ERR_UNKNOWN_FILE_EXTENSION")
    }))
})
