// The artifact store under least privilege (examples/nats/grid-server.conf as shipped, a real
// nats-server): a node's credentials store a test's screenshot through the node's own port
// (NatsArtifactStore.ts, its inbox prefix), a controller's and an observer's read it back the
// way `grid results --artifacts` does, and a node's credentials cannot purge the bucket.
import { layer } from "@effect/vitest"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect, Layer, Redacted } from "effect"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { ensureObjectStore } from "../src/nats/JetStreamAssets.ts"
import { natsArtifactStoreLayer, readArtifact } from "../src/nats/NatsArtifactStore.ts"
import { NatsConnection } from "../src/nats/NatsConnection.ts"
import { assets, nodeInboxPrefix } from "../src/protocol/names.ts"
import { ArtifactStore } from "../src/runner/ArtifactStore.ts"
import { TestNats } from "./support/natsServer.ts"

const configFile = path.join(import.meta.dirname, "..", "examples", "nats", "grid-server.conf")
const password = (user: string) => `change-me-${user}`
const bucket = assets("grid").artifacts

const as = (user: string, inboxPrefix?: string) =>
  Layer.unwrap(Effect.gen(function*() {
    const nats = yield* TestNats
    return NatsConnection.layer({
      url: nats.url,
      auth: { user, password: Redacted.make(password(user)) },
      name: `test-${user}`,
      ...(inboxPrefix !== undefined ? { inboxPrefix } : {})
    })
  }))

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4])

describe("artifacts under least privilege (examples/nats/grid-server.conf)", () => {
  layer(TestNats.layer({ configFile }), { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect("a node stores its screenshot; the controller and the observer read it; the node cannot purge", () =>
      Effect.gen(function*() {
        // The controller creates the bucket (a node's credentials only look it up).
        yield* ensureObjectStore(bucket, 60_000).pipe(Effect.provide(as("controller")))
        const ref = yield* Effect.gen(function*() {
          return yield* (yield* ArtifactStore).put("perm-shots", "0001-missing-failed.png", png)
        }).pipe(
          Effect.provide(natsArtifactStoreLayer(bucket, "lg-1").pipe(Layer.provide(as("lg-1", nodeInboxPrefix("lg-1")))))
        )
        expect(ref).toEqual({ name: "0001-missing-failed.png", bytes: png.length, bucket, key: "perm-shots/lg-1/0001-missing-failed.png" })
        const byController = yield* readArtifact(bucket, ref.key).pipe(Effect.provide(as("controller")))
        expect([...byController]).toEqual([...png])
        const byObserver = yield* readArtifact(bucket, ref.key).pipe(Effect.provide(as("observer")))
        expect([...byObserver]).toEqual([...png])
        // A stolen node credential cannot wipe the bucket.
        const nats = yield* TestNats
        const purged = yield* Effect.promise(async () => {
          const nc = await connect({ servers: nats.url, user: "lg-2", pass: password("lg-2"), inboxPrefix: nodeInboxPrefix("lg-2") })
          try {
            const jsm = await jetstreamManager(nc, { timeout: 2000 })
            return await jsm.streams.purge(`OBJ_${bucket}`).then(() => true, () => false)
          } catch {
            return false
          } finally {
            await nc.close()
          }
        })
        expect(purged).toBe(false)
        const again = yield* readArtifact(bucket, ref.key).pipe(Effect.provide(as("controller")))
        expect(again.length).toBe(png.length)
      }).pipe(Effect.scoped))
  })
})
