// --stream-replicas reaches the object store grid_artifacts like every other asset: on a real
// three-server cluster, assets created with replicas 3 give OBJ_grid_artifacts three replicas,
// and a node's store puts into it and the controller's side reads it back.
import { layer } from "@effect/vitest"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Duration, Effect, Layer } from "effect"
import { expect } from "vitest"
import { ensureAssets } from "../src/nats/JetStreamAssets.ts"
import { natsArtifactStoreLayer, readArtifact } from "../src/nats/NatsArtifactStore.ts"
import { NatsConnection } from "../src/nats/NatsConnection.ts"
import { assets, subjects } from "../src/protocol/names.ts"
import { ArtifactStore } from "../src/runner/ArtifactStore.ts"
import { TestNatsCluster } from "./support/natsCluster.ts"

const connection = Layer.unwrap(Effect.map(TestNatsCluster, (c) => NatsConnection.layer({ url: c.url, auth: {}, name: "test-artifacts" })))

layer(TestNatsCluster.layer(3), { excludeTestServices: true, timeout: "180 seconds" })("artifacts on a cluster", (it) => {
  it.effect("--stream-replicas 3 gives grid_artifacts three replicas; a put is read back", () =>
    Effect.gen(function*() {
      const cluster = yield* TestNatsCluster
      yield* ensureAssets(assets("grid"), subjects("grid"), Duration.seconds(60), { replicas: 3 }).pipe(Effect.provide(connection))
      const replicas = yield* Effect.promise(async () => {
        const nc = await connect({ servers: cluster.members.map((m) => m.url) })
        try {
          return (await (await jetstreamManager(nc)).streams.info("OBJ_grid_artifacts")).config.num_replicas
        } finally {
          await nc.close()
        }
      })
      expect(replicas).toBe(3)
      const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 9, 9])
      const ref = yield* Effect.gen(function*() {
        return yield* (yield* ArtifactStore).put("rep-test", "0001-a.png", bytes)
      }).pipe(Effect.provide(natsArtifactStoreLayer("grid_artifacts", "cl-1").pipe(Layer.provide(connection))))
      const back = yield* readArtifact("grid_artifacts", ref.key).pipe(Effect.provide(connection))
      expect([...back]).toEqual([...bytes])
    }), 180_000)
})
