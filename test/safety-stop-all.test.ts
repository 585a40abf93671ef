// Issue #14 item 3, the emergency stop: `grid stop --all` (a real CLI process) against three
// real daemons on one nats-server, two running a test and one waiting at a barrier: every test
// stops (reason "emergency stop") within 2 s of the order, the command prints what it stopped
// and exits 0; with a filter only the matching node obeys; and a test launched after the order
// (beyond its clock slack) runs on; a node cut off from NATS (through a TCP proxy) when the
// order is given does not confirm (exit 1), and obeys the stored order once it reconnects.
import { layer } from "@effect/vitest"
import { Kvm } from "@nats-io/kv"
import { Effect, Layer } from "effect"
import * as net from "node:net"
import { describe, expect } from "vitest"
import { readStopOrder } from "../src/protocol/stopOrders.ts"
import { TestDaemon } from "./support/daemon.ts"
import { runGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const ids = ["estop-1", "estop-2", "estop-3"]
const daemons = Layer.effectDiscard(Effect.forEach(ids, (nodeId) => TestDaemon.make({ nodeId }), { concurrency: "unbounded" }))
const env = daemons.pipe(Layer.provideMerge(WireClient.layerNats), Layer.provideMerge(TestNats.layer()))

const sleeper = (testId: string, extra: Record<string, unknown> = {}) => ({ kind: "start", testId, tool: "command", params: { command: ["sleep", "600"] }, ...extra })

/** The stored order's time, ms. */
const orderAt = (orderId: string) =>
  Effect.flatMap(WireClient, (client) =>
    Effect.promise(async () => {
      const kv = await new Kvm(client.nc).open("grid_stops")
      const entry = await kv.get(orderId)
      const read = readStopOrder(entry!.string())
      if (read._tag !== "Success") throw new Error(read.failure)
      return Date.parse(read.success.at)
    }))

/** A TCP proxy to NATS that can be cut (every connection dropped, new ones refused) and restored. */
const natsProxy = (upstreamPort: number) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const sockets = new Set<net.Socket>()
      let server: net.Server | undefined
      let port = 0
      const listen = () =>
        new Promise<void>((resolve) => {
          server = net.createServer((client) => {
            const upstream = net.connect(upstreamPort, "127.0.0.1")
            sockets.add(client).add(upstream)
            const drop = () => {
              client.destroy()
              upstream.destroy()
            }
            client.on("error", drop).on("close", drop).pipe(upstream)
            upstream.on("error", drop).on("close", drop).pipe(client)
          })
          server.listen(port, "127.0.0.1", () => {
            port = (server!.address() as net.AddressInfo).port
            resolve()
          })
        })
      const cut = () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy()
          sockets.clear()
          server!.close(() => resolve())
        })
      await listen()
      return { url: () => `nats://127.0.0.1:${port}`, cut, restore: listen }
    }),
    (p) => Effect.promise(() => p.cut())
  )

const busy = (nodeId: string, testId: string) =>
  Effect.flatMap(WireClient, (client) => waitUntil(`${nodeId} lists ${testId}`, Effect.map(client.heartbeat(nodeId), (h) => h?.tests.includes(testId) === true)))

layer(env, { excludeTestServices: true, timeout: "90 seconds" })((it) => {
  describe("grid stop --all", () => {
    it.effect("stops two busy nodes and one at a barrier within 2 s, prints them, exits 0", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        yield* client.send("estop-1", sleeper("estop-a"))
        yield* client.send("estop-2", sleeper("estop-b"))
        yield* client.send("estop-3", sleeper("estop-c", { barrier: true }))
        yield* client.waitEvent("estop-a", "started")
        yield* client.waitEvent("estop-b", "started")
        yield* client.waitEvent("estop-c", "ready")
        yield* Effect.forEach([["estop-1", "estop-a"], ["estop-2", "estop-b"], ["estop-3", "estop-c"]] as const, ([n, t]) => busy(n, t))

        const ran = yield* runGrid(["stop", "--all", "--nats-url", nats.url])
        expect(ran.code, ran.out).toBe(0)
        const orderId = /emergency stop (\S+) stored/.exec(ran.stdout)?.[1]
        expect(orderId).toBeDefined()
        expect(ran.stdout).toContain("estop-1: estop-a stopped (emergency stop)")
        expect(ran.stdout).toContain("estop-2: estop-b stopped (emergency stop)")
        expect(ran.stdout).toContain("estop-3: estop-c stopped (emergency stop)")

        const at = yield* orderAt(orderId!)
        const ends = yield* Effect.forEach(["estop-a", "estop-b", "estop-c"], (t) => client.terminalOf(t, "10 seconds"))
        for (const end of ends) {
          expect(end.kind === "stopped" && end.reason).toBe("emergency stop")
          expect(end.commandId).toBe(orderId)
        }
        const slowest = Math.max(...ends.map((e) => Date.parse(e.at) - at))
        console.log(`grid stop --all: the last of 3 tests (one at a barrier) ended ${slowest} ms after the order`)
        expect(slowest).toBeLessThanOrEqual(2000)
        // The barrier test never started its tool.
        expect((yield* client.eventsOf("estop-c")).map((e) => e.kind)).toEqual(["accepted", "ready", "stopped"])
      }), 60_000)

    it.effect("--node stops only that node; a test taken after the order (and its clock slack) runs on", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        yield* waitUntil("every node idle", Effect.map(Effect.forEach(ids, (id) => client.heartbeat(id)), (hbs) => hbs.every((h) => h?.state === "idle")))
        yield* client.send("estop-1", sleeper("estop-d"))
        yield* client.send("estop-2", sleeper("estop-e"))
        yield* client.waitEvent("estop-d", "started")
        yield* client.waitEvent("estop-e", "started")
        yield* busy("estop-1", "estop-d")
        yield* busy("estop-2", "estop-e")

        const ran = yield* runGrid(["stop", "--all", "--node", "estop-2", "--reason", "only two", "--nats-url", nats.url])
        expect(ran.code, ran.out).toBe(0)
        expect(ran.stdout).toContain("estop-2: estop-e stopped (only two)")
        expect(ran.stdout).not.toContain("estop-1")
        const end = yield* client.terminalOf("estop-e", "10 seconds")
        expect(end.kind === "stopped" && end.reason).toBe("only two")
        expect((yield* client.eventsOf("estop-d")).map((e) => e.kind)).toEqual(["accepted", "started"])

        // Past the slack, a new test on the stopped node is not touched by the stored order.
        yield* Effect.sleep("6 seconds")
        yield* client.send("estop-2", sleeper("estop-f"))
        yield* client.waitEvent("estop-f", "started")
        yield* Effect.sleep("1500 millis")
        expect((yield* client.eventsOf("estop-f")).map((e) => e.kind)).toEqual(["accepted", "started"])

        // Clean up through the same command.
        const all = yield* runGrid(["stop", "--all", "--nats-url", nats.url])
        expect(all.code, all.out).toBe(0)
        expect(all.stdout).toContain("estop-1: estop-d stopped")
        expect(all.stdout).toContain("estop-2: estop-f stopped")
        expect(all.stdout).toContain("estop-3: nothing running")
      }), 60_000)

    it.effect("a node cut off when the order is given does not confirm (exit 1), then obeys the stored order when it reconnects", () =>
      Effect.scoped(Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const proxy = yield* natsProxy(nats.port)
        yield* TestDaemon.make({ nodeId: "estop-p", natsUrl: proxy.url() })
        yield* client.send("estop-p", sleeper("estop-g"))
        yield* client.waitEvent("estop-g", "started")
        yield* busy("estop-p", "estop-g")

        yield* Effect.promise(() => proxy.cut())
        const ran = yield* runGrid(["stop", "--all", "--node", "estop-p", "--reason", "cut off", "--timeout", "2s", "--nats-url", nats.url])
        expect(ran.code, ran.out).toBe(1)
        expect(ran.stdout).toContain("estop-p: estop-g did not confirm")
        expect((yield* client.eventsOf("estop-g")).map((e) => e.kind)).toEqual(["accepted", "started"])

        yield* Effect.promise(() => proxy.restore())
        const end = yield* client.terminalOf("estop-g", "30 seconds")
        // This order, not an older one this node saw at its start and that is replayed too.
        expect(end.kind === "stopped" && end.reason).toBe("cut off")
        expect(end.commandId).toBe(/emergency stop (\S+) stored/.exec(ran.stdout)?.[1])
      })), 60_000)
  })
})
