// The controller's followers across a NATS restart: events and result windows published
// after the server came back reach a follower that was opened before it went away.
import { jetstream } from "@nats-io/jetstream"
import { layer } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { describe, expect } from "vitest"
import { Controller } from "../src/controller/Controller.ts"
import { TestNats } from "./support/natsServer.ts"
import { WireClient } from "./support/WireClient.ts"

const env = WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer()))

// Whole events: the controller reads them through the Schemas and skips incomplete ones.
const fields: Record<string, object> = {
  accepted: { runner: "process", tool: "builtin" },
  finished: { exitCode: 0, summary: null, cleanup: { ok: true, removed: [], errors: [] } }
}
const event = (kind: string) => JSON.stringify({ kind, testId: "rs-1", nodeId: "n1", at: new Date().toISOString(), ...fields[kind] })

describe("controller across a NATS restart", () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("keeps following a test's events", () =>
      Effect.gen(function*() {
        const nats = yield* TestNats
        const js = jetstream((yield* WireClient).nc)
        const kinds = yield* Effect.gen(function*() {
          const controller = yield* Controller
          const follower = yield* controller.events("rs-1").pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
          yield* Effect.promise(() => js.publish("grid.events.rs-1.n1", event("accepted")))
          yield* Effect.sleep("500 millis")
          yield* Effect.promise(() => nats.kill())
          yield* Effect.sleep("2 seconds")
          yield* Effect.promise(() => nats.start())
          // Published like the daemon's outbox does: retried until the restarted server acknowledges.
          yield* Effect.tryPromise(() => js.publish("grid.events.rs-1.n1", event("finished"), { msgID: "rs-1-finished", timeout: 2_000 })).pipe(
            Effect.retry({ times: 10 })
          )
          const got = yield* Fiber.join(follower).pipe(Effect.timeout("20 seconds"))
          return Array.from(got, (e) => e.kind)
        }).pipe(Effect.provide(Controller.layerNats({ url: nats.url }) as Layer.Layer<Controller>))
        expect(kinds).toEqual(["accepted", "finished"])
      }))
  })
})
