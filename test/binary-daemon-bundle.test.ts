// `dist/grid daemon` runs a bundle of its own (scripts/build.ts: grid-daemon.cjs, without the
// other subcommands and without the in-process engine), so every module a daemon loads later,
// on demand, must be inside it. This drives each of those late loads through the executable
// alone (no node, no node_modules): a YAML scenario checked against --allow-target (the
// scenario loader and the YAML parser), one refused by it, the /healthz endpoint of --http-addr,
// and the built-in engine, which is `dist/grid engine` on the whole CLI's bundle.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect } from "vitest"
import { ensureBinary } from "./support/binary.ts"
import { exitOf, spawnCommandScoped } from "./support/daemonProcess.ts"
import { freePort, TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

/** dist/grid copied alone into an empty directory, with a PATH of only `sh`; removed with the suite. */
class Alone extends Context.Service<Alone, { readonly dir: string; readonly grid: string; readonly env: Record<string, string> }>()("test/binary-daemon-bundle/Alone") {
  static readonly layer = Layer.effect(Alone, Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "grid-daemon-bundle-"))
      for (const sub of ["app", "path", "tmp"]) mkdirSync(join(dir, sub))
      const grid = join(dir, "app", "grid")
      copyFileSync(ensureBinary(), grid)
      symlinkSync(execFileSync("sh", ["-c", "command -v sh"], { encoding: "utf8" }).trim(), join(dir, "path", "sh"))
      return { dir, grid, env: { PATH: join(dir, "path"), HOME: dir, TMPDIR: join(dir, "tmp") } }
    }),
    ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ))
}

const env = Layer.mergeAll(Alone.layer, WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer())))

/** A target on 127.0.0.1 that counts what it served, closed with the scope. */
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

describe("dist/grid daemon's own bundle", () => {
  layer(env, { excludeTestServices: true, timeout: "240 seconds" })((it) => {
    it.effect("loads what a daemon loads on demand: the scenario check, the HTTP endpoints, the engine", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const { dir, env, grid } = yield* Alone
        const target = yield* countingServer
        const httpPort = yield* Effect.promise(() => freePort())
        const node = "bundle-node"
        const daemon = yield* spawnCommandScoped(grid, [
          "daemon", "--nats-url", nats.url, "--node-id", node, "--work-dir", join(dir, "work"), "--heartbeat-interval", "500ms",
          "--allow-target", `127.0.0.1:${target.port}`, "--http-addr", `127.0.0.1:${httpPort}`
        ], { cwd: dir, env })
        const exitedEarly = Effect.flatMap(exitOf(daemon), (code) => Effect.die(new Error(`daemon exited ${code}: ${daemon.output()}`)))
        // Generous: the machine running the tests may be busy.
        yield* Effect.raceFirst(waitUntil(`heartbeat of ${node}`, client.heartbeat(node), "90 seconds"), exitedEarly)

        // --http-addr: the endpoints' module is loaded when the node starts them, which may be
        // after its first heartbeat.
        const healthz = Effect.promise(() => fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.status, () => undefined))
        expect(yield* waitUntil("/healthz", healthz, "60 seconds")).toBe(200)

        // A YAML scenario on the allowed target: loaded and checked in the daemon, run by the engine.
        const yaml = ["target: http://127.0.0.1:1", "requests:", "  - name: home", "    path: /home", "load:", "  model: open", "  rate: 20", "  durationSeconds: 2", ""].join("\n")
        yield* client.send(node, {
          kind: "start",
          testId: "bundle-allowed",
          tool: "builtin",
          entry: "scenario.yaml",
          files: [{ path: "scenario.yaml", content: yaml }],
          params: { target: `http://127.0.0.1:${target.port}` }
        })
        const done = yield* client.terminalOf("bundle-allowed", "90 seconds")
        expect(done.kind, JSON.stringify(done)).toBe("finished")
        expect(target.served()).toBeGreaterThan(0)
        expect(done.summary).toMatchObject({ count: target.served(), errors: 0 })

        // The same scenario on another port: refused by the daemon's check, nothing sent.
        const before = target.served()
        yield* client.send(node, {
          kind: "start",
          testId: "bundle-refused",
          tool: "builtin",
          entry: "scenario.yaml",
          files: [{ path: "scenario.yaml", content: yaml }],
          params: { target: `http://127.0.0.1:${yield* Effect.promise(() => freePort())}` }
        })
        const refused = yield* client.waitEvent("bundle-refused", "rejected", "30 seconds")
        expect(refused.code).toBe("target_not_allowed")
        expect(target.served()).toBe(before)

        daemon.child.kill("SIGTERM")
        expect(yield* exitOf(daemon)).toBe(0)
        expect(daemon.output()).not.toContain("is not in the daemon bundle")
      }), 200_000)
  })
})
