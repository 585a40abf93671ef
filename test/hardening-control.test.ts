// No single message can stop or silence a node (issue #9, items 1, 2 and 6): poison commands
// against a real daemon on a real nats-server, events and result windows over NATS's payload
// limit, a stuck event outbox shown in the heartbeat, and the control listener containing a
// defect and terminating a message redelivered too often.
import { DiscardPolicy, jetstreamManager } from "@nats-io/jetstream"
import { NodeServices } from "@effect/platform-node"
import { it as effectIt, layer } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { describe, expect } from "vitest"
import { ControlSource, type ControlMessage } from "../src/control/ControlSource.ts"
import { controlListener, MAX_DELIVERIES } from "../src/control/ControlListener.ts"
import { defaultSettings } from "../src/daemon/DaemonConfig.ts"
import type { Command } from "../src/protocol/commands.ts"
import { EventSink, MemoryEvents } from "../src/runner/EventSink.ts"
import { TestManager } from "../src/runner/TestManager.ts"
import { TestDaemon } from "./support/daemon.ts"
import { exitOf as exited, spawnDaemonScoped } from "./support/daemonProcess.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const command = (testId: string, script = "true", extra: Record<string, unknown> = {}) => ({
  kind: "start",
  testId,
  tool: "command",
  params: { command: ["sh", "-c", script] },
  ...extra
})
const kindsOf = (client: WireClient["Service"], testId: string) => Effect.map(client.eventsOf(testId), (all) => all.map((e) => e.kind))
const daemonEnv = (nats: Parameters<typeof TestNats.layer>[0], daemon: Parameters<typeof TestDaemon.layer>[0]) =>
  TestDaemon.layer(daemon).pipe(Layer.provideMerge(WireClient.layerNats), Layer.provideMerge(TestNats.layer(nats)))

describe("poison commands against a real daemon", () => {
  const node = "poison-1"
  const stillUp = (testId: string) =>
    Effect.gen(function*() {
      const client = yield* WireClient
      const daemon = yield* TestDaemon
      yield* client.send(node, command(testId))
      expect(yield* client.terminalOf(testId)).toMatchObject({ kind: "finished", exitCode: 0 })
      expect(yield* Effect.raceFirst(Effect.as(daemon.ended, "ended"), Effect.as(Effect.sleep("50 millis"), "up"))).toBe("up")
    })

  layer(daemonEnv({}, { nodeId: node }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("a command nested 5,000 deep is rejected and acked; the node goes on", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.sendRaw(node, `{"kind":${"[".repeat(5000)}${"]".repeat(5000)}}`)
        const r = yield* waitUntil("rejection", Effect.map(client.eventsOf(undefined), (all) => all.find((e) => e.kind === "rejected" && /nested/.test(e.message))))
        expect(r).toMatchObject({ code: "invalid_command", nodeId: node })
        yield* stillUp("after-deep")
        // Acked: nothing left pending or redelivered on the node's consumer.
        const jsm = yield* Effect.promise(() => jetstreamManager(client.nc))
        const info = yield* Effect.promise(() => jsm.consumers.info("GRID_CONTROL", `node-${node}`))
        expect(info.num_ack_pending).toBe(0)
        expect(info.num_pending).toBe(0)
      }))

    it.effect("a 600 KB tool name is echoed as a short prefix, and later events still flow", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.sendRaw(node, JSON.stringify({ kind: "start", commandId: "big-tool", testId: "tbig", tool: "\"".repeat(300_000) }))
        const r = yield* client.waitEvent("tbig", "rejected")
        expect(r.code).toBe("unsupported_tool")
        expect(r.message.length).toBeLessThan(1100)
        expect(r.message).toContain("…[cut]")
        yield* stillUp("after-big-tool")
        expect(yield* kindsOf(client, "after-big-tool")).toEqual(["accepted", "started", "finished"])
      }))

    it.effect("env names with '=' or NUL are invalid commands, not a stack trace", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, command("env-eq", "true", { env: { "FOO=BAR": "baz" } }))
        yield* client.send(node, command("env-nul", "true", { env: { "A\u0000B": "x" } }))
        yield* client.send(node, command("env-nulv", "true", { env: { OK: "x\u0000y" } }))
        for (const id of ["env-eq", "env-nul", "env-nulv"]) {
          const r = yield* client.waitEvent(id, "rejected")
          expect(r.code).toBe("invalid_command")
          expect(r.message).toContain("env")
          expect(r.message).not.toMatch(/\bat .*\.ts:\d+/)
        }
      }))

    it.effect("on a busy node an invalid start is answered with what is wrong with it, a valid one with busy", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, command("hold", "sleep 30"))
        yield* client.waitEvent("hold", "started")
        yield* client.send(node, { kind: "start", testId: "bad-on-busy", tool: "command", params: {} })
        expect(yield* client.waitEvent("bad-on-busy", "rejected")).toMatchObject({ code: "invalid_command" })
        yield* client.send(node, command("good-on-busy"))
        expect(yield* client.waitEvent("good-on-busy", "rejected")).toMatchObject({ code: "busy" })
        yield* client.send(node, { kind: "stop", testId: "hold" })
        yield* client.terminalOf("hold")
      }))

    it.effect("labels too large for any event still give the test its events, cut short", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        // The command fits (1 MB limit) but every event echoing its labels would not.
        const labels = { blob: "x".repeat(1024 * 1024 - 400) }
        yield* client.send(node, command("big-labels", "true", { labels }))
        const end = yield* client.terminalOf("big-labels")
        expect(end).toMatchObject({ kind: "finished", truncated: true })
        expect(end.labels).toBeUndefined()
        expect(yield* kindsOf(client, "big-labels")).toEqual(["accepted", "started", "finished"])
        yield* stillUp("after-big-labels")
      }))

    it.effect("the heartbeat says unhealthy while events cannot be published, and healthy again after", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        // The events stream refuses new messages (full, discard new): publishes fail, NATS is up.
        const jsm = yield* Effect.promise(() => jetstreamManager(client.nc))
        const info = yield* Effect.promise(() => jsm.streams.info("GRID_EVENTS"))
        yield* Effect.promise(() => jsm.streams.update("GRID_EVENTS", { max_msgs: info.state.messages, discard: DiscardPolicy.New }))
        yield* client.send(node, command("stuck-1"))
        const sick = yield* waitUntil("an unhealthy heartbeat", Effect.map(client.heartbeat(node), (hb) => (hb?.healthy === false ? hb : undefined)))
        expect(sick.outbox!.events.depth).toBeGreaterThan(0)
        expect(sick.problems![0]).toContain("unpublished")
        yield* Effect.promise(() => jsm.streams.update("GRID_EVENTS", { max_msgs: -1, discard: info.config.discard }))
        // The events waiting in the outbox arrive, in order, and the node is healthy again.
        yield* waitUntil("healthy heartbeat", Effect.map(client.heartbeat(node), (hb) => hb?.healthy === true))
        yield* waitUntil("stuck-1 events", Effect.map(client.eventsOf("stuck-1"), (all) => all.length === 3))
        expect(yield* kindsOf(client, "stuck-1")).toEqual(["accepted", "started", "finished"])
        expect(yield* client.undecodable).toEqual([])
      }), 40_000)
  })
})

describe("a server with a 16 KB payload limit", () => {
  const node = "small-1"
  layer(daemonEnv({ maxPayload: 16 * 1024 }, { nodeId: node, maxCommandBytes: 15 * 1024 }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("a window with 400 labels is folded to fit; every sample is still counted", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        // A JMeter CSV with 400 labels written within one second, then the tool exits.
        const header = "timeStamp,elapsed,label,responseCode,success,bytes,sentBytes,Latency"
        const script = `now=$(($(date +%s%N)/1000000)); { echo '${header}'; i=0; while [ $i -lt 800 ]; do echo "$now,$((i % 50 + 1)),label-$((i % 400)),200,true,10,5,1"; i=$((i+1)); done; } > r.jtl`
        yield* client.send(node, command("many-labels", script, { params: { command: ["sh", "-c", script], results: { path: "r.jtl", format: "jmeter" } } }))
        const end = yield* client.terminalOf("many-labels")
        expect(end).toMatchObject({ kind: "finished" })
        const summary = end.summary!
        expect(summary.count).toBe(800)
        expect(summary.unackedWindows).toBe(0)
        const windows = yield* client.results("many-labels")
        const star = windows.flatMap((w) => w.labels.filter((l) => l.label === "*")).reduce((n, l) => n + l.count, 0)
        expect(star).toBe(800)
        const all = windows.flatMap((w) => w.labels.filter((l) => l.label !== "*")).reduce((n, l) => n + l.count, 0)
        expect(all).toBe(800)
        expect(windows.some((w) => w.labels.some((l) => l.label === "__other__"))).toBe(true)
      }))
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
      stopTests: () => Effect.succeed([]),
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
      Effect.provide(NodeServices.layer)
    )
  }

  effectIt.live("a throw and a stack overflow become internal_error rejections; every message is acked", () => Effect.gen(function*() {
    const log: Array<string> = []
    const handled: Array<string> = []
    const events = yield* run([
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
  }))

  effectIt.live(`a message delivered more than ${MAX_DELIVERIES} times is answered and terminated, not handled`, () => Effect.gen(function*() {
    const log: Array<string> = []
    const handled: Array<string> = []
    const events = yield* run([message({ kind: "stop", commandId: "again", testId: "t4" }, MAX_DELIVERIES + 1, log)], handled)
    expect(handled).toEqual([])
    expect(log).toEqual(["term"])
    expect(events).toMatchObject([{ kind: "rejected", testId: "t4", code: "internal_error", commandId: "again" }])
  }))
})

describe("the daemon's start-up with credentials in the URL", () => {
  const url = (port: number, password: string) => `nats://admin:${password}@127.0.0.1:${port}`

  layer(TestNats.layer({ auth: { user: "admin", password: "s3cret" } }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("connects with nats://user:pass@host and never prints the password", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const d = yield* spawnDaemonScoped(["--nats-url", url(nats.port, "s3cret"), "--node-id", "cred-1", "--work-dir", tempWorkRoot()])
        yield* waitUntil("the node up", Effect.sync(() => /grid node cred-1 up/.test(d.output())))
        d.child.kill("SIGTERM")
        expect(yield* exited(d)).toBe(0)
        expect(d.output()).toContain("nats://admin:***@127.0.0.1")
        expect(d.output()).not.toContain("s3cret")
      }))

    it.effect("a refused authentication exits 1 with one clear line: no stack, no 'stopped', no password", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const d = yield* spawnDaemonScoped(["--nats-url", url(nats.port, "wrong-pw"), "--node-id", "cred-2", "--work-dir", tempWorkRoot()])
        expect(yield* exited(d)).toBe(1)
        expect(d.output().trim()).toBe(`grid daemon: cannot connect to NATS at nats://admin:***@127.0.0.1:${nats.port}: Authorization Violation`)
      }))
  })
})
