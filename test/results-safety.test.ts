// A test's result file is read only if it is a regular file inside the test's own work
// directory: a tool that points it at a host file (a symlink to /etc/passwd) or at something
// that is not a file (a FIFO) fails with `results_invalid`, and nothing of it is published.
// Both runners, through an in-process daemon: the docker one with a locally imported busybox
// image (removed after its test).
import { layer } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { buildBusyboxImage, removeImage } from "./fixtures/docker/busyboxImage.ts"
import { TestDaemon } from "./support/daemon.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const node = "safe-res"
const writer = path.resolve(import.meta.dirname, "fixtures/jtl-writer.mjs")
const env = TestDaemon.layer({ nodeId: node, resultsTimeout: Duration.seconds(10), capacity: 4 }).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(TestNats.layer())
)

const terminalOf = (testId: string) => Effect.flatMap(WireClient, (client) => client.terminalOf(testId, "60 seconds"))

const expectInvalid = (testId: string) =>
  Effect.gen(function*() {
    const end = yield* terminalOf(testId)
    expect(end).toMatchObject({ kind: "failed", error: { code: "results_invalid" }, summary: null })
    expect(end.kind === "failed" && end.error.message).toMatch(/r\.jtl/)
    expect(JSON.stringify(end)).not.toContain("root:x:0:0")
    // Only empty windows (time passing, and the final one that tells a controller this node's
    // results are complete): no sample, nothing read from the file.
    const windows = yield* (yield* WireClient).results(testId)
    expect(windows.flatMap((w) => w.labels)).toEqual([])
  })

const sh = (script: string) => ["sh", "-c", script]

describe("result files through symlinks and special files", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("process runner: a symlink to a host file fails results_invalid, whether the tool exits at once or keeps running", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, { kind: "start", testId: "ln-quick", tool: "command", params: { command: sh("ln -s /etc/passwd r.jtl"), results: { path: "r.jtl", format: "jmeter" } } })
        yield* client.send(node, { kind: "start", testId: "ln-slow", tool: "command", params: { command: sh("ln -s /etc/passwd r.jtl; sleep 30"), results: { path: "r.jtl", format: "jmeter" } } })
        yield* client.send(node, { kind: "start", testId: "fifo", tool: "command", params: { command: sh("mkfifo r.jtl; sleep 30"), results: { path: "r.jtl", format: "jmeter" } } })
        yield* expectInvalid("ln-quick")
        yield* expectInvalid("ln-slow")
        yield* expectInvalid("fifo")
      }))

    it.effect("process runner: a symlink to a file inside the work directory is followed", () =>
      Effect.gen(function*() {
        yield* (yield* WireClient).send(node, {
          kind: "start",
          testId: "ln-inside",
          tool: "command",
          params: { command: sh(`ln -s data.jtl r.jtl && exec "${process.execPath}" "${writer}" data.jtl 20 1`), results: { path: "r.jtl", format: "jmeter" } }
        })
        const end = yield* terminalOf("ln-inside")
        expect(end).toMatchObject({ kind: "finished", summary: { count: 20 } })
      }))

    it.effect("docker runner: a symlink made inside the container to /etc/passwd fails results_invalid", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const image = yield* Effect.acquireRelease(Effect.sync(buildBusyboxImage), (tag) => Effect.sync(() => removeImage(tag)))
        yield* waitUntil("docker runner available", Effect.map(client.heartbeat(node), (hb) => hb?.runners.includes("docker")))
        yield* client.send(node, {
          kind: "start",
          testId: "ln-docker",
          tool: "command",
          runner: "docker",
          image,
          params: { command: sh("ln -s /etc/passwd /grid/work/r.jtl; sleep 2"), results: { path: "r.jtl", format: "jmeter" } }
        })
        yield* expectInvalid("ln-docker")
      }))
  })
})
