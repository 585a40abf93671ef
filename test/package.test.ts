// The npm package and npm scripts as a supervisor sees them: the packed package installed into
// an empty prefix runs from its bundle alone (no node_modules beside it) and its daemon stops
// cleanly on SIGTERM; `npm run daemon` passes a SIGTERM sent to npm on to the daemon instead
// of leaving it orphaned and heartbeating.
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { alive } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

const root = join(import.meta.dirname, "..")
const node24 = join(root, "node_modules/.bin/node")
const env = { ...process.env, PATH: `${dirname(node24)}:${process.env.PATH}` }
let nats: NatsServer
let client: GridClient
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "grid-package-"))
  nats = await startNatsServer()
  client = await gridClient(nats.url)
})
afterAll(async () => {
  await client?.close()
  await nats?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const exitOf = (p: ChildProcess) => new Promise<number | null>((resolve) => p.exitCode !== null ? resolve(p.exitCode) : p.once("exit", (code) => resolve(code)))

describe("the npm package", () => {
  it("installed from its tarball, runs from the bundle alone and stops on SIGTERM", async () => {
    const tgz = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: root, env, encoding: "utf8", timeout: 120_000 }).trim().split("\n").pop()!
    expect(tgz).toMatch(/^grid-load-agent-.*\.tgz$/)
    const prefix = join(dir, "prefix")
    execFileSync("npm", ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", "--offline", join(dir, tgz)], { env, stdio: "pipe", timeout: 120_000 })
    const installed = join(prefix, "lib/node_modules/grid-load-agent")
    // What a user gets: the bin, the bundle, the README; no sources, no dependencies.
    expect(readdirSync(installed).sort()).toEqual(["README.md", "bin", "dist", "package.json"])
    expect(existsSync(join(installed, "node_modules"))).toBe(false)
    const grid = join(prefix, "bin/grid")
    expect(JSON.parse(execFileSync(grid, ["version", "--json"], { env, encoding: "utf8" }))).toMatchObject({ version: "0.1.0", build: "bundle" })

    const daemon = spawn(grid, ["daemon", "--nats-url", nats.url, "--node-id", "npm-node", "--work-dir", join(dir, "work")], { env, stdio: "ignore" })
    try {
      await waitUntil("heartbeat of npm-node", () => client.heartbeat("npm-node"))
      daemon.kill("SIGTERM")
      expect(await exitOf(daemon)).toBe(0)
      expect(await client.heartbeat("npm-node")).toBeUndefined()
    } finally {
      if (daemon.exitCode === null) daemon.kill("SIGKILL")
    }
  }, 240_000)
})

describe("npm run daemon", () => {
  it("a SIGTERM to npm reaches the daemon: it stops, removes its heartbeat, leaves no process", async () => {
    const npm = spawn("npm", ["run", "--silent", "daemon", "--", "--nats-url", nats.url, "--node-id", "npm-run-node", "--work-dir", join(dir, "work2")], {
      cwd: root,
      env,
      stdio: "ignore"
    })
    let daemonPid: number | undefined
    try {
      await waitUntil("heartbeat of npm-run-node", () => client.heartbeat("npm-run-node"), 60_000)
      // The daemon itself (node), not npm or a shell between them.
      daemonPid = Number(execFileSync("pgrep", ["-f", "^node src/cli/main.ts daemon .*--node-id npm-run-node"], { encoding: "utf8" }).trim())
      npm.kill("SIGTERM")
      await exitOf(npm)
      await waitUntil("the daemon process to end", () => (alive(daemonPid!) ? undefined : true), 30_000)
      expect(await client.heartbeat("npm-run-node")).toBeUndefined()
    } finally {
      if (npm.exitCode === null) npm.kill("SIGKILL")
      if (daemonPid !== undefined && alive(daemonPid)) process.kill(daemonPid, "SIGKILL")
    }
  }, 120_000)
})
