// The npm package and npm scripts as a supervisor sees them: the packed package installed into
// an empty prefix runs from its bundle alone (no node_modules beside it) and its daemon stops
// cleanly on SIGTERM; `npm run daemon` passes a SIGTERM sent to npm on to the daemon instead
// of leaving it orphaned and heartbeating.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { describe, expect } from "vitest"
import { alive } from "./support/daemon.ts"
import { exitOf, spawnCommandScoped } from "./support/daemonProcess.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const root = join(import.meta.dirname, "..")
const node24 = join(root, "node_modules/.bin/node")
const env = { ...process.env, PATH: `${dirname(node24)}:${process.env.PATH}` }

/** Where the package is packed and installed; removed with the suite. */
class Dir extends Context.Service<Dir, string>()("test/package/Dir") {
  static readonly layer = Layer.effect(Dir, Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "grid-package-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ))
}

const suite = Layer.mergeAll(Dir.layer, WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer())))

layer(suite, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
  describe("the npm package", () => {
    it.effect("installed from its tarball, runs from the bundle alone and stops on SIGTERM", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const dir = yield* Dir
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

        const daemon = yield* spawnCommandScoped(grid, ["daemon", "--nats-url", nats.url, "--node-id", "npm-node", "--work-dir", join(dir, "work")], { env })
        yield* waitUntil("heartbeat of npm-node", client.heartbeat("npm-node"))
        daemon.child.kill("SIGTERM")
        expect(yield* exitOf(daemon)).toBe(0)
        expect(yield* client.heartbeat("npm-node")).toBeUndefined()
      }), 240_000)
  })

  describe("npm run daemon", () => {
    it.effect("a SIGTERM to npm reaches the daemon: it stops, removes its heartbeat, leaves no process", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const dir = yield* Dir
        let daemonPid: number | undefined
        // Runs after npm is stopped: the daemon itself must not outlive the test either.
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (daemonPid !== undefined && alive(daemonPid)) process.kill(daemonPid, "SIGKILL")
          }))
        const npm = yield* spawnCommandScoped("npm", ["run", "--silent", "daemon", "--", "--nats-url", nats.url, "--node-id", "npm-run-node", "--work-dir", join(dir, "work2")], {
          cwd: root,
          env
        })
        yield* waitUntil("heartbeat of npm-run-node", client.heartbeat("npm-run-node"), "60 seconds")
        // The daemon itself (node), not npm or a shell between them.
        daemonPid = Number(execFileSync("pgrep", ["-f", "^node src/cli/main.ts daemon .*--node-id npm-run-node"], { encoding: "utf8" }).trim())
        const pid = daemonPid
        npm.child.kill("SIGTERM")
        yield* exitOf(npm)
        yield* waitUntil("the daemon process to end", Effect.sync(() => !alive(pid)), "30 seconds")
        expect(yield* client.heartbeat("npm-run-node")).toBeUndefined()
      }), 120_000)
  })
})
