// No single message can stop or silence a node (issue #9, items 1, 2 and 6): poison commands
// against a real daemon on a real nats-server, events and result windows over NATS's payload
// limit, a stuck event outbox shown in the heartbeat, and the control listener containing a
// defect and terminating a message redelivered too often.
import { DiscardPolicy, jetstreamManager } from "@nats-io/jetstream"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ControlSource, type ControlMessage } from "../src/control/ControlSource.ts"
import { controlListener, MAX_DELIVERIES } from "../src/control/ControlListener.ts"
import { defaultSettings } from "../src/daemon/DaemonConfig.ts"
import type { Command } from "../src/protocol/commands.ts"
import { EventSink, MemoryEvents } from "../src/runner/EventSink.ts"
import { TestManager } from "../src/runner/TestManager.ts"
import { type InProcessDaemon, spawnDaemon, startDaemon } from "./support/daemon.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

const terminal = (client: GridClient, testId: string) =>
  waitUntil(`terminal event of ${testId}`, () => client.eventsOf(testId).find((e) => ["finished", "failed", "stopped"].includes(e.kind)))
const command = (testId: string, script = "true", extra: Record<string, unknown> = {}) => ({
  kind: "start",
  testId,
  tool: "command",
  params: { command: ["sh", "-c", script] },
  ...extra
})

describe("poison commands against a real daemon", () => {
  let nats: NatsServer
  let client: GridClient
  let daemon: InProcessDaemon
  const node = "poison-1"
  beforeAll(async () => {
    nats = await startNatsServer()
    client = await gridClient(nats.url)
    daemon = await startDaemon(client, { natsUrl: nats.url, nodeId: node })
  })
  afterAll(async () => {
    await daemon?.stop()
    await client?.close()
    await nats?.close()
  })
  const stillUp = async (testId: string) => {
    await client.send(node, command(testId))
    expect(await terminal(client, testId)).toMatchObject({ kind: "finished", exitCode: 0 })
    expect(await Promise.race([daemon.ended.then(() => "ended"), new Promise((r) => setTimeout(() => r("up"), 50))])).toBe("up")
  }

  it("a command nested 5,000 deep is rejected and acked; the node goes on", async () => {
    await client.sendRaw(node, `{"kind":${"[".repeat(5000)}${"]".repeat(5000)}}`)
    const r = await waitUntil("rejection", () => client.eventsOf(undefined).find((e) => e.kind === "rejected" && /nested/.test(String(e.message))))
    expect(r).toMatchObject({ code: "invalid_command", nodeId: node })
    await stillUp("after-deep")
    // Acked: nothing left pending or redelivered on the node's consumer.
    const jsm = await jetstreamManager(client.nc)
    const info = await jsm.consumers.info("GRID_CONTROL", `node-${node}`)
    expect(info.num_ack_pending).toBe(0)
    expect(info.num_pending).toBe(0)
  })

  it("a 600 KB tool name is echoed as a short prefix, and later events still flow", async () => {
    await client.sendRaw(node, JSON.stringify({ kind: "start", commandId: "big-tool", testId: "tbig", tool: "\"".repeat(300_000) }))
    const r = await client.waitEvent("tbig", "rejected")
    expect(r.code).toBe("unsupported_tool")
    expect(String(r.message).length).toBeLessThan(1100)
    expect(String(r.message)).toContain("…[cut]")
    await stillUp("after-big-tool")
    expect(client.eventsOf("after-big-tool").map((e) => e.kind)).toEqual(["accepted", "started", "finished"])
  })

  it("env names with '=' or NUL are invalid commands, not a stack trace", async () => {
    await client.send(node, command("env-eq", "true", { env: { "FOO=BAR": "baz" } }))
    await client.send(node, command("env-nul", "true", { env: { "A\u0000B": "x" } }))
    await client.send(node, command("env-nulv", "true", { env: { OK: "x\u0000y" } }))
    for (const id of ["env-eq", "env-nul", "env-nulv"]) {
      const r = await client.waitEvent(id, "rejected")
      expect(r.code).toBe("invalid_command")
      expect(String(r.message)).toContain("env")
      expect(String(r.message)).not.toMatch(/\bat .*\.ts:\d+/)
    }
  })

  it("on a busy node an invalid start is answered with what is wrong with it, a valid one with busy", async () => {
    await client.send(node, command("hold", "sleep 30"))
    await client.waitEvent("hold", "started")
    await client.send(node, { kind: "start", testId: "bad-on-busy", tool: "command", params: {} })
    expect(await client.waitEvent("bad-on-busy", "rejected")).toMatchObject({ code: "invalid_command" })
    await client.send(node, command("good-on-busy"))
    expect(await client.waitEvent("good-on-busy", "rejected")).toMatchObject({ code: "busy" })
    await client.send(node, { kind: "stop", testId: "hold" })
    await terminal(client, "hold")
  })

  it("labels too large for any event still give the test its events, cut short", async () => {
    // The command fits (1 MB limit) but every event echoing its labels would not.
    const labels = { blob: "x".repeat(1024 * 1024 - 400) }
    await client.send(node, command("big-labels", "true", { labels }))
    const end = await terminal(client, "big-labels")
    expect(end).toMatchObject({ kind: "finished", truncated: true })
    expect(end.labels).toBeUndefined()
    expect(client.eventsOf("big-labels").map((e) => e.kind)).toEqual(["accepted", "started", "finished"])
    await stillUp("after-big-labels")
  })

  it("the heartbeat says unhealthy while events cannot be published, and healthy again after", async () => {
    // The events stream refuses new messages (full, discard new): publishes fail, NATS is up.
    const jsm = await jetstreamManager(client.nc)
    const info = await jsm.streams.info("GRID_EVENTS")
    await jsm.streams.update("GRID_EVENTS", { max_msgs: info.state.messages, discard: DiscardPolicy.New })
    await client.send(node, command("stuck-1"))
    const sick = await waitUntil("an unhealthy heartbeat", async () => {
      const hb = await client.heartbeat(node)
      return hb?.healthy === false ? hb : undefined
    })
    expect((sick.outbox as { events: { depth: number } }).events.depth).toBeGreaterThan(0)
    expect(String((sick.problems as Array<string>)[0])).toContain("unpublished")
    await jsm.streams.update("GRID_EVENTS", { max_msgs: -1, discard: info.config.discard })
    // The events waiting in the outbox arrive, in order, and the node is healthy again.
    await waitUntil("healthy heartbeat", async () => ((await client.heartbeat(node))?.healthy === true ? true : undefined))
    await waitUntil("stuck-1 events", () => client.eventsOf("stuck-1").length === 3 ? true : undefined)
    expect(client.eventsOf("stuck-1").map((e) => e.kind)).toEqual(["accepted", "started", "finished"])
  }, 40_000)
})

describe("a server with a 16 KB payload limit", () => {
  let nats: NatsServer
  let client: GridClient
  let daemon: InProcessDaemon
  const node = "small-1"
  beforeAll(async () => {
    nats = await startNatsServer({ maxPayload: 16 * 1024 })
    client = await gridClient(nats.url)
    daemon = await startDaemon(client, { natsUrl: nats.url, nodeId: node, maxCommandBytes: 15 * 1024 })
  })
  afterAll(async () => {
    await daemon?.stop()
    await client?.close()
    await nats?.close()
  })

  it("a window with 400 labels is folded to fit; every sample is still counted", async () => {
    // A JMeter CSV with 400 labels written within one second, then the tool exits.
    const header = "timeStamp,elapsed,label,responseCode,success,bytes,sentBytes,Latency"
    const script = `now=$(($(date +%s%N)/1000000)); { echo '${header}'; i=0; while [ $i -lt 800 ]; do echo "$now,$((i % 50 + 1)),label-$((i % 400)),200,true,10,5,1"; i=$((i+1)); done; } > r.jtl`
    await client.send(node, command("many-labels", script, { params: { command: ["sh", "-c", script], results: { path: "r.jtl", format: "jmeter" } } }))
    const end = await terminal(client, "many-labels")
    expect(end).toMatchObject({ kind: "finished" })
    const summary = end.summary as { count: number; unackedWindows: number }
    expect(summary.count).toBe(800)
    expect(summary.unackedWindows).toBe(0)
    const windows = await client.results("many-labels")
    const star = windows.flatMap((w) => w.labels.filter((l) => l.label === "*")).reduce((n, l) => n + l.count, 0)
    expect(star).toBe(800)
    const all = windows.flatMap((w) => w.labels.filter((l) => l.label !== "*")).reduce((n, l) => n + l.count, 0)
    expect(all).toBe(800)
    expect(windows.some((w) => w.labels.some((l) => l.label === "__other__"))).toBe(true)
  })
})

describe("the control listener contains what goes wrong with one message", () => {
  const settings = defaultSettings({ nodeId: "listener-1" })
  const message = (data: unknown, deliveryCount = 1, log: Array<string> = []): ControlMessage => ({
    data: new TextEncoder().encode(JSON.stringify(data)),
    redelivered: deliveryCount > 1,
    deliveryCount,
    ack: Effect.sync(() => void log.push("ack")),
    term: Effect.sync(() => void log.push("term"))
  })
  const run = (messages: ReadonlyArray<ControlMessage>, handled: Array<string>) => {
    const recurse = (n: number): number => recurse(n + 1) + 1
    const manager = Layer.succeed(TestManager, {
      handle: (c: Command) =>
        Effect.sync(() => {
          handled.push(c.commandId)
          if (c.commandId === "throws") throw new Error("a library threw")
          if (c.commandId === "overflows") recurse(0)
        }),
      running: Effect.succeed([]),
      state: Effect.succeed("idle" as const),
      changes: Stream.empty,
      drained: Effect.never,
      shutdown: () => Effect.void,
      force: Effect.void
    } satisfies TestManager["Service"])
    return Effect.gen(function*() {
      yield* controlListener(settings)
      return yield* (yield* MemoryEvents).all
    }).pipe(
      Effect.provide(Layer.mergeAll(
        manager,
            Layer.succeed(ControlSource, { messages: Stream.fromIterable(messages) }),
        EventSink.memory.pipe(Layer.provideMerge(MemoryEvents.layer))
      )),
      Effect.provide(NodeServices.layer),
      Effect.runPromise
    )
  }

  it("a throw and a stack overflow become internal_error rejections; every message is acked", async () => {
    const log: Array<string> = []
    const handled: Array<string> = []
    const events = await run([
      message({ kind: "stop", commandId: "throws", testId: "t1" }, 1, log),
      message({ kind: "stop", commandId: "overflows", testId: "t2" }, 1, log),
      message({ kind: "stop", commandId: "fine", testId: "t3" }, 1, log)
    ], handled)
    expect(handled).toEqual(["throws", "overflows", "fine"])
    expect(log).toEqual(["ack", "ack", "ack"])
    expect(events.map((e) => [e.kind, e.testId, e.kind === "rejected" ? e.code : ""])).toEqual([
      ["rejected", "t1", "internal_error"],
      ["rejected", "t2", "internal_error"]
    ])
    for (const e of events) expect(e.kind === "rejected" && e.message).not.toMatch(/\bat .*:\d+:\d+/)
  })

  it(`a message delivered more than ${MAX_DELIVERIES} times is answered and terminated, not handled`, async () => {
    const log: Array<string> = []
    const handled: Array<string> = []
    const events = await run([message({ kind: "stop", commandId: "again", testId: "t4" }, MAX_DELIVERIES + 1, log)], handled)
    expect(handled).toEqual([])
    expect(log).toEqual(["term"])
    expect(events).toMatchObject([{ kind: "rejected", testId: "t4", code: "internal_error", commandId: "again" }])
  })
})

describe("the daemon's start-up with credentials in the URL", () => {
  let nats: NatsServer
  beforeAll(async () => {
    nats = await startNatsServer({ auth: { user: "admin", password: "s3cret" } })
  })
  afterAll(async () => {
    await nats?.close()
  })
  const url = (password: string) => `nats://admin:${password}@127.0.0.1:${nats.port}`

  it("connects with nats://user:pass@host and never prints the password", async () => {
    const d = spawnDaemon(["--nats-url", url("s3cret"), "--node-id", "cred-1", "--work-dir", tempWorkRoot()])
    await waitUntil("the node up", () => (/grid node cred-1 up/.test(d.output()) ? true : undefined))
    d.child.kill("SIGTERM")
    expect(await d.exited).toBe(0)
    expect(d.output()).toContain("nats://admin:***@127.0.0.1")
    expect(d.output()).not.toContain("s3cret")
  })

  it("a refused authentication exits 1 with one clear line: no stack, no 'stopped', no password", async () => {
    const d = spawnDaemon(["--nats-url", url("wrong-pw"), "--node-id", "cred-2", "--work-dir", tempWorkRoot()])
    expect(await d.exited).toBe(1)
    expect(d.output().trim()).toBe(`grid daemon: cannot connect to NATS at nats://admin:***@127.0.0.1:${nats.port}: Authorization Violation`)
  })
})
