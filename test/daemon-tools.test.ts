// Real JMeter (Debian's 2.13, through the GridJMeterLauncher fixture) and real Locust (Debian's
// python3-locust) run through the daemon against a counting target on 127.0.0.1: the samples in
// the published windows and in the finished event's summary equal what the target served.
import { Duration, Effect, Exit, Scope } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { executableFound } from "../src/tools/adapterSupport.ts"
import { countingTarget } from "./fixtures/countingTarget.ts"
import { type InProcessDaemon, startDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

const fixtures = path.join(import.meta.dirname, "fixtures")
const need = (exe: string, pkg: string) => {
  if (!executableFound(exe)) throw new Error(`${exe} not found: apt-get install ${pkg} (.ci/run does)`)
}

let nats: NatsServer
let client: GridClient
let daemon: InProcessDaemon
let scope: Scope.Closeable
let target: { url: string; count: () => number }
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "grid-daemon-tools-"))
const node = "tools-1"

beforeAll(async () => {
  need("javac", "default-jdk-headless")
  need("jmeter", "jmeter")
  need("/usr/bin/locust", "python3-locust")
  // Debian's JMeter loads no plan as shipped; the launcher fixture lets it (see the fixture).
  execFileSync("javac", ["-d", tmp, "-cp", "/usr/share/jmeter/bin/ApacheJMeter.jar", path.join(fixtures, "jmeter", "GridJMeterLauncher.java")])
  const launcher = path.join(tmp, "jmeter")
  fs.writeFileSync(
    launcher,
    `#!/bin/sh\nexec java -Djmeter.home=/usr/share/jmeter -cp /usr/share/jmeter/bin/ApacheJMeter.jar:${tmp} GridJMeterLauncher "$@"\n`,
    { mode: 0o755 }
  )
  scope = Effect.runSync(Scope.make())
  target = await Effect.runPromise(Scope.provide(scope)(countingTarget))
  nats = await startNatsServer()
  client = await gridClient(nats.url)
  daemon = await startDaemon(client, {
    natsUrl: nats.url,
    nodeId: node,
    toolPaths: { jmeter: launcher, locust: "/usr/bin/locust" },
    resultsTimeout: Duration.seconds(30)
  })
})
afterAll(async () => {
  await daemon?.stop()
  await client?.close()
  await nats?.close()
  if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
  fs.rmSync(tmp, { recursive: true, force: true })
})

const terminalOf = (testId: string) =>
  waitUntil(`terminal event of ${testId}`, () => client.eventsOf(testId).find((e) => ["finished", "failed", "stopped"].includes(e.kind)), 90_000)

const expectExact = async (testId: string, served: number) => {
  const done = await terminalOf(testId)
  expect(done.kind, JSON.stringify(done)).toBe("finished")
  expect(done.summary).toMatchObject({ count: served, errors: 0, badLines: 0, unackedWindows: 0 })
  const windows = await client.results(testId)
  const star = windows.flatMap((w) => w.labels.filter((l) => l.label === "*"))
  expect(star.reduce((n, l) => n + l.count, 0)).toBe(served)
}

describe("real tools through the daemon", () => {
  it("advertises the tools it found", async () => {
    const hb = await client.heartbeat(node)
    expect(hb!.tools).toEqual(expect.arrayContaining(["builtin", "command", "jmeter", "locust"]))
  })

  it("JMeter: published samples equal the target's count", async () => {
    const before = target.count()
    await client.send(node, {
      kind: "start",
      testId: "jmeter-1",
      tool: "jmeter",
      entry: "plan.jmx",
      files: [{ path: "plan.jmx", content: fs.readFileSync(path.join(fixtures, "jmeter", "plan.jmx"), "utf8") }],
      params: { users: 3, rampUpSeconds: 0, target: target.url, properties: { loops: 7 } }
    })
    await terminalOf("jmeter-1")
    expect(target.count() - before).toBe(21)
    await expectExact("jmeter-1", 21)
  })

  it("JMeter stopped mid-run: its polite UDP Shutdown loses no sample", async () => {
    const before = target.count()
    await client.send(node, {
      kind: "start",
      testId: "jmeter-stop",
      tool: "jmeter",
      entry: "plan.jmx",
      files: [{ path: "plan.jmx", content: fs.readFileSync(path.join(fixtures, "jmeter", "plan.jmx"), "utf8") }],
      params: { users: 3, rampUpSeconds: 0, target: target.url, properties: { loops: -1 } }
    })
    await client.waitEvent("jmeter-stop", "started")
    await waitUntil("JMeter's first requests", () => (target.count() - before > 50 ? true : undefined), 60_000)
    await client.send(node, { kind: "stop", testId: "jmeter-stop", graceSeconds: 20 })
    const done = await terminalOf("jmeter-stop")
    expect(done.kind).toBe("stopped")
    const served = target.count() - before
    expect(done.summary).toMatchObject({ count: served, errors: 0 })
  })

  it("Locust: published samples equal the target's count", async () => {
    const before = target.count()
    await client.send(node, {
      kind: "start",
      testId: "locust-1",
      tool: "locust",
      entry: "locustfile.py",
      files: [{ path: "locustfile.py", content: fs.readFileSync(path.join(fixtures, "locust", "locustfile.py"), "utf8") }],
      params: { users: 3, rampUpSeconds: 0, durationSeconds: 2, target: target.url }
    })
    await terminalOf("locust-1")
    const served = target.count() - before
    expect(served).toBeGreaterThan(0)
    await expectExact("locust-1", served)
  })
})
