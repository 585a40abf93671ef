// The ArtifactStore port over a JetStream object store (bucket `grid_artifacts`, created with
// the other assets in JetStreamAssets.ts, TTL a week): a test's file goes in as one object
// keyed `<testId>/<nodeId>/<name>`, and `grid results --artifacts` reads it back by that key.
// Encoding and decoding only: what is kept and its bounds are the runner's (TestArtifacts.ts).
import { Objm } from "@nats-io/obj"
import { Effect, Layer } from "effect"
import { artifactKey, ArtifactError, type ArtifactLimits, ArtifactStore, defaultArtifactLimits } from "../runner/ArtifactStore.ts"
import { describe, NatsConnection, NatsError } from "./NatsConnection.ts"

export const natsArtifactStoreLayer = (bucket: string, nodeId: string, limits: ArtifactLimits = defaultArtifactLimits) =>
  Layer.effect(
    ArtifactStore,
    Effect.gen(function*() {
      const { nc } = yield* NatsConnection
      // Opened on first use, not at start: a node whose server has no such bucket yet still runs.
      let opened: Promise<import("@nats-io/obj").ObjectStore> | undefined
      const store = () => (opened ??= new Objm(nc).open(bucket).catch((e) => {
        opened = undefined
        return Promise.reject(e)
      }))
      return ArtifactStore.of({
        keeps: true,
        limits,
        put: (testId, name, bytes) =>
          Effect.tryPromise({
            try: () => {
              const key = artifactKey(testId, nodeId, name)
              return store().then((s) => s.putBlob({ name: key }, bytes)).then(() => ({ name, bytes: bytes.length, bucket, key }))
            },
            catch: (e) => new ArtifactError({ message: `cannot store ${name} in ${bucket}: ${describe(e)}` })
          })
      })
    })
  )

/** Reads one stored file (`grid results --artifacts`); fails when it is not there (expired). */
export const readArtifact = (bucket: string, key: string) =>
  Effect.gen(function*() {
    const { nc } = yield* NatsConnection
    const data = yield* Effect.tryPromise({
      try: () => new Objm(nc).open(bucket).then((s) => s.getBlob(key)),
      catch: (e) => new NatsError({ message: `cannot read ${key} from ${bucket}: ${describe(e)}` })
    })
    if (data === null) return yield* new NatsError({ message: `${key} is no longer in ${bucket} (expired or removed)` })
    return data
  })
