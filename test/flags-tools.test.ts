// Issue #13, the flags that choose what runs, on a real daemon and a real nats-server:
// `engine.client` reaches the built-in engine's process (its argv says --client, and the engine
// really sends with that client to a counting target on 127.0.0.1), `tools.<tool>.path` makes the
// node run another binary for that tool (a tool upgrade rolled out per scope), and
// `runner.default` picks the runner of a start that names none (refused, naming the runner, on a
// node whose docker is not asked for here).
import { layer } from "@effect/vitest"
import { Kvm } from "@nats-io/kv"
import { Duration, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { countingTarget } from "./fixtures/countingTarget.ts"
import { TestDaemon } from "./support/daemon.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const node = "fl-tools"
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "grid-flags-tools-"))
/** Two fake k6 binaries: each notes that it ran (its own path), writes an empty result file
 * (`--out json=<file>`, so the test ends at once: no_results) and exits. */
const fakeK6 = (name: string) => {
  const file = path.join(tmp, name)
  fs.writeFileSync(
    file,
    `#!/bin/sh\necho "$0" >> ${path.join(tmp, "ran")}\nfor a in "$@"; do case "$a" in json=*) : > "\${a#json=}";; esac; done\nexit 0\n`,
    { mode: 0o755 }
  )
  return file
}
const oldK6 = fakeK6("k6-old")
const newK6 = fakeK6("k6-new")

const env = TestDaemon.layer({ nodeId: node, toolPaths: { k6: oldK6 }, resultsTimeout: Duration.seconds(20) }).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(TestNats.layer()),
  Layer.provideMerge(Layer.effectDiscard(Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(tmp, { recursive: true, force: true })))))
)

const flagsKv = Effect.flatMap(WireClient, (c) => Effect.promise(() => new Kvm(c.nc).open("grid_flags")))
const put = (key: string, value: string) => Effect.flatMap(flagsKv, (kv) => Effect.promise(() => kv.put(key, value)))
const unset = (key: string) => Effect.flatMap(flagsKv, (kv) => Effect.promise(() => kv.delete(key)))
const applied = (revision: number) =>
  Effect.flatMap(WireClient, (c) => waitUntil(`revision ${revision} applied`, Effect.map(c.heartbeat(node), (h) => (h?.flagsRevision ?? 0) >= revision)))

const cmdline = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")

const builtinStart = (testId: string, target: string) => ({
  kind: "start",
  testId,
  tool: "builtin",
  entry: "scenario.json",
  files: [{ path: "scenario.json", content: JSON.stringify({ target, requests: [{ name: "home", path: "/" }], load: { model: "closed", users: 1, durationSeconds: 2 } }) }]
})

const k6Start = (testId: string) => ({ kind: "start", testId, tool: "k6", entry: "script.js", files: [{ path: "script.js", content: "export default function () {}\n" }] })

layer(env, { excludeTestServices: true, timeout: "90 seconds" })((it) => {
  describe("flags that choose what runs", () => {
    it.effect("engine.client reaches the built-in engine's process, and it sends with that client", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const target = yield* countingTarget
        for (const [testId, value] of [["client-undici", "undici"], ["client-lean", "lean"]] as const) {
          yield* applied(yield* put(`node.${node}.engine.client`, value))
          const before = target.count()
          yield* client.send(node, builtinStart(testId, target.url))
          const started = yield* client.waitEvent(testId, "started")
          const argv = cmdline(started.pid!)
          expect(argv[argv.indexOf("--client") + 1]).toBe(value)
          const done = yield* client.terminalOf(testId, "60 seconds")
          expect(done.kind, JSON.stringify(done)).toBe("finished")
          expect(target.count() - before).toBeGreaterThan(0)
          expect((yield* client.waitEvent(testId, "accepted")).flags?.["engine.client"]).toBe(value)
        }
        yield* unset(`node.${node}.engine.client`)
      }).pipe(Effect.scoped))

    it.effect("tools.k6.path runs another binary for the next test; unset, the node's own again", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const ran = path.join(tmp, "ran")
        const runK6 = (testId: string) =>
          Effect.gen(function*() {
            fs.rmSync(ran, { force: true })
            yield* client.send(node, k6Start(testId))
            yield* client.terminalOf(testId, "30 seconds")
            return fs.readFileSync(ran, "utf8").trim()
          })
        expect(yield* runK6("k6-own")).toBe(oldK6)
        yield* applied(yield* put(`node.${node}.tools.k6.path`, newK6))
        expect(yield* runK6("k6-flag")).toBe(newK6)
        expect((yield* client.waitEvent("k6-flag", "accepted")).flags?.["tools.k6.path"]).toBe(newK6)
        const rev = yield* Effect.flatMap(flagsKv, (kv) => Effect.promise(() => kv.delete(`node.${node}.tools.k6.path`).then(() => kv.status())))
        yield* applied(rev.streamInfo.state.last_seq)
        expect(yield* runK6("k6-own-again")).toBe(oldK6)
      }))

    it.effect("runner.default picks the runner of a start that names none", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* applied(yield* put(`node.${node}.runner.default`, "docker"))
        // At a barrier: decided (accepted on a runner), never launched (no image is pulled).
        yield* client.send(node, { kind: "start", testId: "runner-flag", tool: "command", image: "grid-flags-test:never", barrier: true, params: { command: ["true"] } })
        const e = yield* waitUntil("a decision", Effect.map(client.eventsOf("runner-flag"), (es) => es.find((x) => x.kind === "accepted" || x.kind === "rejected")))
        // With docker answering, accepted on the docker runner; without, refused naming it.
        if (e.kind === "accepted") expect(e.runner).toBe("docker")
        else expect(e.kind === "rejected" && e.message).toContain("docker")
        if (e.kind === "accepted") yield* client.send(node, { kind: "stop", testId: "runner-flag" })
        yield* client.terminalOf("runner-flag", "30 seconds").pipe(Effect.ignore)
        yield* unset(`node.${node}.runner.default`)
      }))
  })
})
