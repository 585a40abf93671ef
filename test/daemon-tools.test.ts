// Real JMeter (Debian's 2.13, through the GridJMeterLauncher fixture) and real Locust (Debian's
// python3-locust) run through the daemon against a counting target on 127.0.0.1: the samples in
// the published windows and in the finished event's summary equal what the target served.
import { layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { executableFound } from "../src/tools/adapterSupport.ts"
import { countingTarget } from "./fixtures/countingTarget.ts"
import { TestDaemon } from "./support/daemon.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const fixtures = path.join(import.meta.dirname, "fixtures")
const need = (exe: string, pkg: string) => {
  if (!executableFound(exe)) throw new Error(`${exe} not found: apt-get install ${pkg} (.ci/run does)`)
}
const node = "tools-1"

/** Debian's JMeter loads no plan as shipped; the launcher fixture lets it (see the fixture).
 * Built before the daemon (which looks for its tools at start), removed after it. */
const jmeterLauncher = (tmp: string) =>
  Layer.effectDiscard(Effect.acquireRelease(
    Effect.sync(() => {
      need("javac", "default-jdk-headless")
      need("jmeter", "jmeter")
      need("/usr/bin/locust", "python3-locust")
      execFileSync("javac", ["-d", tmp, "-cp", "/usr/share/jmeter/bin/ApacheJMeter.jar", path.join(fixtures, "jmeter", "GridJMeterLauncher.java")])
      fs.writeFileSync(
        path.join(tmp, "jmeter"),
        `#!/bin/sh\nexec java -Djmeter.home=/usr/share/jmeter -cp /usr/share/jmeter/bin/ApacheJMeter.jar:${tmp} GridJMeterLauncher "$@"\n`,
        { mode: 0o755 }
      )
    }),
    () => Effect.sync(() => fs.rmSync(tmp, { recursive: true, force: true }))
  ))

class Target extends Context.Service<Target, { readonly url: string; readonly count: () => number }>()("test/daemon-tools/Target") {}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "grid-daemon-tools-"))
const env = TestDaemon.layer({
  nodeId: node,
  toolPaths: { jmeter: path.join(tmp, "jmeter"), locust: "/usr/bin/locust" },
  resultsTimeout: Duration.seconds(30)
}).pipe(
  Layer.provideMerge(WireClient.layerNats),
  Layer.provideMerge(Layer.mergeAll(TestNats.layer(), jmeterLauncher(tmp), Layer.effect(Target, countingTarget)))
)

const expectExact = (testId: string, served: number) =>
  Effect.gen(function*() {
    const client = yield* WireClient
    const done = yield* client.terminalOf(testId, "90 seconds")
    expect(done.kind, JSON.stringify(done)).toBe("finished")
    expect(done.summary).toMatchObject({ count: served, errors: 0, badLines: 0, unackedWindows: 0 })
    const windows = yield* client.results(testId)
    const star = windows.flatMap((w) => w.labels.filter((l) => l.label === "*"))
    expect(star.reduce((n, l) => n + l.count, 0)).toBe(served)
  })

describe("real tools through the daemon", () => {
  layer(env, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect("advertises the tools it found", () =>
      Effect.gen(function*() {
        const hb = yield* (yield* WireClient).heartbeat(node)
        expect(hb!.tools).toEqual(expect.arrayContaining(["builtin", "command", "jmeter", "locust"]))
      }))

    it.effect("JMeter: published samples equal the target's count", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const target = yield* Target
        const before = target.count()
        yield* client.send(node, {
          kind: "start",
          testId: "jmeter-1",
          tool: "jmeter",
          entry: "plan.jmx",
          files: [{ path: "plan.jmx", content: fs.readFileSync(path.join(fixtures, "jmeter", "plan.jmx"), "utf8") }],
          params: { users: 3, rampUpSeconds: 0, target: target.url, properties: { loops: 7 } }
        })
        yield* client.terminalOf("jmeter-1", "90 seconds")
        expect(target.count() - before).toBe(21)
        yield* expectExact("jmeter-1", 21)
      }))

    it.effect("JMeter stopped mid-run: its polite UDP Shutdown loses no sample", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const target = yield* Target
        const before = target.count()
        yield* client.send(node, {
          kind: "start",
          testId: "jmeter-stop",
          tool: "jmeter",
          entry: "plan.jmx",
          files: [{ path: "plan.jmx", content: fs.readFileSync(path.join(fixtures, "jmeter", "plan.jmx"), "utf8") }],
          params: { users: 3, rampUpSeconds: 0, target: target.url, properties: { loops: -1 } }
        })
        yield* client.waitEvent("jmeter-stop", "started")
        yield* waitUntil("JMeter's first requests", Effect.sync(() => target.count() - before > 50), "60 seconds")
        yield* client.send(node, { kind: "stop", testId: "jmeter-stop", graceSeconds: 20 })
        const done = yield* client.terminalOf("jmeter-stop", "90 seconds")
        expect(done.kind).toBe("stopped")
        const served = target.count() - before
        expect(done.summary).toMatchObject({ count: served, errors: 0 })
      }))

    it.effect("Locust: published samples equal the target's count", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const target = yield* Target
        const before = target.count()
        yield* client.send(node, {
          kind: "start",
          testId: "locust-1",
          tool: "locust",
          entry: "locustfile.py",
          files: [{ path: "locustfile.py", content: fs.readFileSync(path.join(fixtures, "locust", "locustfile.py"), "utf8") }],
          params: { users: 3, rampUpSeconds: 0, durationSeconds: 2, target: target.url }
        })
        yield* client.terminalOf("locust-1", "90 seconds")
        const served = target.count() - before
        expect(served).toBeGreaterThan(0)
        yield* expectExact("locust-1", served)
      }))
  })
})
