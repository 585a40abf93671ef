// A failed browser step's screenshot as an artifact, through a real daemon, nats-server and
// Chromium: the node publishes the regular files of the test's `screenshots/` folder to the
// object store before its work directory goes, the terminal event lists them, and
// `grid results --artifacts DIR` writes them back (a PNG). A symlink planted in that folder
// (to a file outside the work directory) is neither read nor published.
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { describe, expect } from "vitest"
import { serveTarget } from "../src/engine/TargetServer.ts"
import { nodeWorkRoot } from "../src/runner/WorkDir.ts"
import { TestDaemon } from "./support/daemon.ts"
import { runGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { WireClient } from "./support/WireClient.ts"

const node = "artifacts-1"
const env = TestDaemon.layer({ nodeId: node, resultsTimeout: Duration.seconds(30) }).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(TestNats.layer())
)

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

// One user, a page that loads and a selector that is not on it: each iteration fails its
// second step after a second and screenshots the page.
const scenario = {
  target: "http://127.0.0.1:1",
  browser: {
    steps: [
      { name: "home", goto: "/browser" },
      { name: "missing", click: "#not-on-the-page", timeoutSeconds: 1 }
    ]
  },
  load: { model: "closed", users: 1, durationSeconds: 4 }
}

layer(env, { excludeTestServices: true, timeout: "300 seconds" })("screenshots as artifacts", (it) => {
  describe("a browser test with a missing selector through a daemon", () => {
    it.effect("its terminal event lists the screenshot; grid results --artifacts writes the PNG; a planted symlink is not published", () =>
      Effect.scoped(Effect.gen(function*() {
        const client = yield* WireClient
        const daemon = yield* TestDaemon
        const nats = yield* TestNats
        const target = yield* serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} })
        const testId = `shots-${Date.now()}`
        // A PNG outside the work directory, which the symlink leads to.
        const outside = join(tmpdir(), `grid-secret-${process.pid}-${Date.now()}.png`)
        writeFileSync(outside, Buffer.concat([PNG, Buffer.from("not the test's")]))
        yield* client.send(node, {
          kind: "start",
          testId,
          tool: "builtin",
          entry: "scenario.json",
          files: [{ path: "scenario.json", content: JSON.stringify(scenario) }],
          params: { target: target.url }
        })
        // The work directory exists once the test was accepted: plant the symlink.
        const shots = join(nodeWorkRoot(daemon.settings), testId, "screenshots")
        const workDir = join(nodeWorkRoot(daemon.settings), testId)
        while (!existsSync(workDir)) yield* Effect.sleep(Duration.millis(50))
        mkdirSync(shots, { recursive: true })
        symlinkSync(outside, join(shots, "0000-planted.png"))

        const done = yield* client.terminalOf(testId, "240 seconds")
        expect(done.kind).toBe("finished")
        const artifacts = done.kind === "finished" ? done.artifacts ?? [] : []
        expect(artifacts.length).toBeGreaterThanOrEqual(1)
        expect(artifacts.map((a) => a.name)).not.toContain("0000-planted.png")
        const shot = artifacts.find((a) => a.name.endsWith("-missing-failed.png"))
        expect(shot).toBeDefined()
        expect(shot!.bucket).toBe("grid_artifacts")
        expect(shot!.key).toBe(`${testId}/${node}/${shot!.name}`)
        expect(shot!.bytes).toBeGreaterThan(PNG.length)
        // The work directory went after the files were kept.
        expect(existsSync(workDir)).toBe(false)

        const dir = join(tmpdir(), `grid-artifacts-${process.pid}-${Date.now()}`)
        const ran = yield* runGrid(["results", testId, "--nats-url", nats.url, "--artifacts", dir])
        expect(ran.stderr).toContain(`artifacts: ${artifacts.length} written to ${dir}`)
        expect(ran.code).toBe(0)
        const files = readdirSync(join(dir, node)).sort()
        expect(files).toEqual(artifacts.map((a) => a.name).sort())
        expect(files).not.toContain("0000-planted.png")
        const png = readFileSync(join(dir, node, shot!.name))
        expect(png.subarray(0, 8).equals(PNG)).toBe(true)
        expect(png.length).toBe(shot!.bytes)
      })), 300_000)
  })
})
