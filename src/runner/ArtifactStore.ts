// Where a node keeps the files a test leaves for later (today: the browser engine's screenshots
// of failed steps), published at the end of the test before its work directory is removed and
// listed in the terminal event's `artifacts`. A port like the EventSink: the daemon stores into
// a JetStream object store (src/nats/NatsArtifactStore.ts), `grid run` into a local folder,
// tests into memory; `none` keeps nothing (the node then reads nothing back either).
// Bounded per test: at most `maxCount` files and `maxBytes` in all; what is over is skipped.
import { Context, Effect, Layer, Schema } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export class ArtifactError extends Schema.TaggedError<ArtifactError>()("ArtifactError", {
  message: Schema.String
}) {}

/** Where one stored file is: what the terminal event lists (docs/protocol.md "Artifacts"). */
export interface ArtifactRef {
  readonly name: string
  readonly bytes: number
  readonly bucket: string
  readonly key: string
}

export interface ArtifactLimits {
  /** Files per test (the browser engine writes at most 100 screenshots per run). */
  readonly maxCount: number
  /** Bytes per test, all files together. */
  readonly maxBytes: number
}

export const defaultArtifactLimits: ArtifactLimits = { maxCount: 100, maxBytes: 50 * 1024 * 1024 }

/** A name becomes part of a key and a file name: plain characters only, at most 100. */
export const artifactName = (name: string): string | undefined => /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name) ? name : undefined

/** The key of a test's file: `<testId>/<nodeId>/<name>` (ids are protocol ids, names plain). */
export const artifactKey = (testId: string, nodeId: string, name: string) => `${testId}/${nodeId}/${name}`

export class ArtifactStore extends Context.Service<ArtifactStore, {
  /** False for `none`: the node does not read the test's files back at all. */
  readonly keeps: boolean
  readonly limits: ArtifactLimits
  readonly put: (testId: string, name: string, bytes: Uint8Array) => Effect.Effect<ArtifactRef, ArtifactError>
}>()("grid/runner/ArtifactStore") {
  static readonly none = Layer.succeed(ArtifactStore, ArtifactStore.of({
    keeps: false,
    limits: { maxCount: 0, maxBytes: 0 },
    put: (testId, name) => Effect.fail(new ArtifactError({ message: `${testId}/${name}: this node keeps no artifacts` }))
  }))

  /** In memory (tests): the files by key, readable through `stored`. */
  static readonly memory = (stored: Map<string, Uint8Array>, nodeId: string, limits: ArtifactLimits = defaultArtifactLimits) =>
    Layer.succeed(ArtifactStore, ArtifactStore.of({
      keeps: true,
      limits,
      put: (testId, name, bytes) =>
        Effect.sync(() => {
          const key = artifactKey(testId, nodeId, name)
          stored.set(key, bytes)
          return { name, bytes: bytes.length, bucket: "memory", key }
        })
    }))

  /** Files under `root/<testId>/` (`grid run`): the key is the file's path. */
  static readonly directory = (root: string, limits: ArtifactLimits = defaultArtifactLimits) =>
    Layer.succeed(ArtifactStore, ArtifactStore.of({
      keeps: true,
      limits,
      put: (testId, name, bytes) =>
        Effect.try({
          try: () => {
            const dir = join(root, testId)
            mkdirSync(dir, { recursive: true })
            const key = join(dir, name)
            writeFileSync(key, bytes)
            return { name, bytes: bytes.length, bucket: root, key }
          },
          catch: (e) => new ArtifactError({ message: `cannot write ${join(root, testId, name)}: ${e instanceof Error ? e.message : String(e)}` })
        })
    }))
}
