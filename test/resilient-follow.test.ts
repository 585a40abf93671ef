// The controller's stream follower (src/nats/ResilientFollow.ts) against a real nats-server: a
// quiet subject is not reopened while the server's idle heartbeats say the consumer is alive
// (a test's events are quiet for the whole run: reopening every stallMs delayed a node's
// terminal event until the launch declared the node lost), and a message published after a
// quiet stretch arrives at once.
import { expect, layer } from "@effect/vitest"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Clock, Effect, Fiber, Stream } from "effect"
import { resilientFollow } from "../src/nats/ResilientFollow.ts"
import { TestNats } from "./support/natsServer.ts"

layer(TestNats.layer(), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
  it.effect("a quiet subject keeps its one consumer (idle heartbeats), and what comes later arrives", () =>
    Effect.gen(function*() {
      const server = yield* TestNats
      const nc = yield* Effect.acquireRelease(Effect.promise(() => connect({ servers: server.url })), (c) => Effect.promise(() => c.close()))
      const jsm = yield* Effect.promise(() => jetstreamManager(nc))
      yield* Effect.promise(() => jsm.streams.add({ name: "QUIET", subjects: ["quiet.>"] }))
      const js = jetstream(nc)
      yield* Effect.promise(() => js.publish("quiet.a", "first"))
      let opens = 0
      const stream = yield* resilientFollow(nc, js, "QUIET", "quiet.>", { stallMs: 2_000, onOpen: () => opens++ })
      const got: Array<{ text: string; at: number }> = []
      const fiber = yield* stream.pipe(
        Stream.runForEach((m) => Effect.map(Clock.currentTimeMillis, (at) => void got.push({ text: m.string(), at }))),
        Effect.forkScoped
      )
      // Three stall periods of silence.
      yield* Effect.sleep("7 seconds")
      const sentAt = yield* Clock.currentTimeMillis
      yield* Effect.promise(() => js.publish("quiet.b", "later"))
      yield* Effect.sleep("1500 millis")
      yield* Fiber.interrupt(fiber)
      expect(got.map((g) => g.text)).toEqual(["first", "later"])
      expect(opens).toBe(1)
      expect(got[1]!.at - sentAt).toBeLessThan(1000)
    }).pipe(Effect.scoped), 60_000)
})
