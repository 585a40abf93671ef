// The single executable on a machine that has nothing else: dist/grid copied alone into an
// empty directory, run with a PATH that holds only `sh` and `date` (no node, no npm, no
// node_modules anywhere near it), as a daemon against a real nats-server. A `command` test and
// a built-in engine test run through it with exact counts; the engine is dist/grid itself.
// Also: `grid version --json`, and bin/grid.js on an older Node saying which Node it needs.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureBinary } from "./support/binary.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient
let dir: string
let grid: string
let env: Record<string, string>

beforeAll(async () => {
  const built = ensureBinary()
  dir = mkdtempSync(join(tmpdir(), "grid-binary-"))
  mkdirSync(join(dir, "app"))
  mkdirSync(join(dir, "path"))
  grid = join(dir, "app", "grid")
  copyFileSync(built, grid)
  for (const tool of ["sh", "date"]) symlinkSync(execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), join(dir, "path", tool))
  env = { PATH: join(dir, "path"), HOME: dir, TMPDIR: join(dir, "tmp") }
  mkdirSync(env.TMPDIR!)
  nats = await startNatsServer()
  client = await gridClient(nats.url)
}, 240_000)
afterAll(async () => {
  await client?.close()
  await nats?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const terminalOf = (testId: string) =>
  waitUntil(`terminal event of ${testId}`, () => client.eventsOf(testId).find((e) => ["finished", "failed", "stopped"].includes(e.kind)), 60_000)

describe("dist/grid alone", () => {
  it("is the only file in its directory, and no node is on its PATH", () => {
    expect(readdirSync(join(dir, "app"))).toEqual(["grid"])
    expect(spawnSync("sh", ["-c", "command -v node || echo none"], { env, encoding: "utf8" }).stdout.trim()).toBe("none")
  })

  it("says its version, commit, Node version and build time", () => {
    const out = spawnSync(grid, ["version", "--json"], { env, cwd: dir, encoding: "utf8" })
    expect(out.status).toBe(0)
    const info = JSON.parse(out.stdout)
    expect(info).toMatchObject({ version: "0.1.0", build: "binary" })
    expect(info.node).toMatch(/^v24\./)
    expect(info.commit).toMatch(/^[0-9a-f]{40}$|^unknown$/)
    expect(Number.isNaN(Date.parse(info.builtAt))).toBe(false)
    expect(spawnSync(grid, ["--version"], { env, encoding: "utf8" }).stdout).toBe("grid v0.1.0\n")
  })

  it("loads every subcommand from inside itself (no module may look for files beside the code)", () => {
    for (const sub of ["daemon", "run", "engine", "target", "report", "nodes", "launch", "stop", "results", "version"]) {
      const r = spawnSync(grid, [sub, "--help"], { env, cwd: dir, encoding: "utf8" })
      expect({ sub, status: r.status, stderr: r.stderr }).toEqual({ sub, status: 0, stderr: "" })
      expect(r.stdout).toContain(`grid ${sub}`)
    }
  })

  it("runs as a daemon: a command test and a built-in engine test, with exact counts", async () => {
    const node = "binary-node"
    const daemon = spawn(grid, ["daemon", "--nats-url", nats.url, "--node-id", node, "--work-dir", join(dir, "work"), "--heartbeat-interval", "500ms"], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    daemon.stdout!.on("data", (d) => (output += d))
    daemon.stderr!.on("data", (d) => (output += d))
    const exited = new Promise<number | null>((resolve) => daemon.on("exit", (code) => resolve(code)))
    // A tiny target on 127.0.0.1 that counts what it served.
    let served = 0
    const target: Server = createServer((_req, res) => {
      served++
      res.end("ok")
    })
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve))
    const port = (target.address() as { port: number }).port
    try {
      const hb = await Promise.race([
        waitUntil(`heartbeat of ${node}`, () => client.heartbeat(node)),
        exited.then((code) => {
          throw new Error(`daemon exited ${code}: ${output}`)
        })
      ])
      expect(hb).toMatchObject({ version: "0.1.0" })
      expect(hb.tools).toEqual(expect.arrayContaining(["command", "builtin"]))

      // `command`: a shell script writes a JMeter CSV of exactly 37 samples.
      const header = "timeStamp,elapsed,label,responseCode,success,bytes,sentBytes,Latency"
      const script = `now=$(($(date +%s%N)/1000000)); { echo '${header}'; i=0; while [ $i -lt 37 ]; do echo "$now,$((i % 9 + 1)),step-$((i % 3)),200,true,10,5,1"; i=$((i+1)); done; } > r.jtl`
      await client.send(node, { kind: "start", testId: "bin-command", tool: "command", params: { command: ["sh", "-c", script], results: { path: "r.jtl", format: "jmeter" } } })
      const cmd = await terminalOf("bin-command")
      expect(cmd).toMatchObject({ kind: "finished", summary: { count: 37, errors: 0 } })
      const cmdWindows = await client.results("bin-command")
      expect(cmdWindows.flatMap((w) => w.labels.filter((l) => l.label === "*")).reduce((n, l) => n + l.count, 0)).toBe(37)

      // `builtin`: the engine is `dist/grid engine`, started by the daemon from its own path.
      const scenario = { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 40, durationSeconds: 2 } }
      await client.send(node, {
        kind: "start",
        testId: "bin-builtin",
        tool: "builtin",
        entry: "scenario.json",
        files: [{ path: "scenario.json", content: JSON.stringify(scenario) }],
        params: { target: `http://127.0.0.1:${port}` }
      })
      const started = await client.waitEvent("bin-builtin", "started", 30_000)
      expect(started.pid).toBeTypeOf("number")
      const engine = await terminalOf("bin-builtin")
      expect(engine.kind, JSON.stringify(engine)).toBe("finished")
      expect(served).toBeGreaterThanOrEqual(60)
      expect(engine.summary).toMatchObject({ count: served, errors: 0 })
      const windows = await client.results("bin-builtin")
      expect(windows.flatMap((w) => w.labels.filter((l) => l.label === "*")).reduce((n, l) => n + l.count, 0)).toBe(served)

      // SIGTERM stops it cleanly (exit 0, heartbeat removed), as under systemd or docker stop.
      daemon.kill("SIGTERM")
      expect(await exited).toBe(0)
      expect(await client.heartbeat(node)).toBeUndefined()
    } finally {
      if (daemon.exitCode === null) daemon.kill("SIGKILL")
      await new Promise<void>((resolve) => target.close(() => resolve()))
    }
  }, 120_000)
})

describe("bin/grid.js on an older Node", () => {
  it("says which Node it needs instead of failing on a .ts extension", () => {
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
  })
})
