// Issue #14 item 2, control-plane loss: a real `grid daemon` with --control-loss-timeout 5s
// whose nats-server is SIGKILLed under a running test stops that test by itself (its tool's
// process group is gone within 8 s of the kill), keeps running, and publishes the terminal
// event (`stopped`, reason `control_lost`) once NATS is back.
import { layer } from "@effect/vitest"
import { Clock, Effect, Layer } from "effect"
import { describe, expect } from "vitest"
import { alive } from "./support/daemon.ts"
import { launchDaemon } from "./support/daemonProcess.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const env = WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer()))

describe("control-plane loss", () => {
  layer(env, { excludeTestServices: true, timeout: "90 seconds" })((it) => {
    it.effect("NATS killed under a running test: the tool is gone within 8 s, the terminal event comes once NATS returns", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const d = yield* launchDaemon("loss-1", { stopGrace: "2s", args: ["--control-loss-timeout", "5s"] })
        yield* client.send("loss-1", { kind: "start", testId: "loss-test", tool: "command", params: { command: ["sleep", "600"] } })
        const started = yield* client.waitEvent("loss-test", "started")
        const pid = started.pid!
        expect(alive(-pid)).toBe(true)

        yield* Effect.promise(() => nats.kill())
        const killedAt = yield* Clock.currentTimeMillis
        yield* waitUntil("the tool's process group gone", Effect.sync(() => !alive(-pid)), "20 seconds")
        const goneAfterMs = (yield* Clock.currentTimeMillis) - killedAt
        console.log(`control-loss-timeout 5 s: the tool was gone ${goneAfterMs} ms after nats-server was killed`)
        expect(goneAfterMs).toBeGreaterThanOrEqual(4000)
        expect(goneAfterMs).toBeLessThanOrEqual(8000)
        // The node itself lives on, waiting for its bus.
        expect(d.child.exitCode).toBeNull()

        yield* Effect.promise(() => nats.start())
        const end = yield* client.terminalOf("loss-test", "30 seconds")
        expect(end.kind === "stopped" && end.reason).toBe("control_lost")
        expect((yield* client.eventsOf("loss-test")).map((e) => e.kind)).toEqual(["accepted", "started", "stopped"])
        // And it takes commands again.
        yield* client.send("loss-1", { kind: "start", testId: "loss-after", tool: "command", params: { command: ["true"] } })
        expect((yield* client.terminalOf("loss-after", "30 seconds")).kind).toBe("finished")
      }), 90_000)
  })
})
