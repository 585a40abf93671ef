// `grid results <testId> --artifacts DIR`: the files the test's nodes kept (their screenshots),
// listed in their terminal events, read from the object store into DIR/<nodeId>/<name>.
// A listing is a node's word: only a plain name, a valid node id, this grid's bucket and the
// key the node would have used (`<testId>/<nodeId>/<name>`) are followed, so an event cannot
// make this command read another test's files or write outside DIR.
import { Effect, Layer } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Controller } from "../controller/Controller.ts"
import type { NatsAuth } from "../nats/NatsAuth.ts"
import { readArtifact } from "../nats/NatsArtifactStore.ts"
import { NatsConnection } from "../nats/NatsConnection.ts"
import { assets, isId } from "../protocol/names.ts"
import { artifactKey, artifactName } from "../runner/ArtifactStore.ts"

export interface ArtifactsSettings {
  readonly url: string
  readonly auth: NatsAuth
  readonly subjectPrefix: string
}

export interface Downloaded {
  readonly written: ReadonlyArray<string>
  readonly problems: ReadonlyArray<string>
}

export const downloadArtifacts = (settings: ArtifactsSettings, testId: string, dir: string) =>
  Effect.gen(function*() {
    const controller = yield* Controller
    const { events } = yield* controller.history(testId)
    const bucket = assets(settings.subjectPrefix).artifacts
    const written: Array<string> = []
    const problems: Array<string> = []
    for (const e of events) {
      if (e.kind !== "finished" && e.kind !== "failed" && e.kind !== "stopped") continue
      for (const a of e.artifacts ?? []) {
        const name = artifactName(a.name)
        if (name === undefined || !isId(e.nodeId) || a.bucket !== bucket || a.key !== artifactKey(testId, e.nodeId, name)) {
          problems.push(`node ${e.nodeId}: artifact ${JSON.stringify(a.name).slice(0, 120)} skipped (not where this grid keeps them)`)
          continue
        }
        const data = yield* Effect.result(readArtifact(bucket, a.key))
        if (data._tag === "Failure") {
          problems.push(data.failure.message)
          continue
        }
        const file = join(dir, e.nodeId, name)
        const wrote = yield* Effect.try({
          try: () => {
            mkdirSync(join(dir, e.nodeId), { recursive: true })
            writeFileSync(file, data.success)
          },
          catch: (err) => `cannot write ${file}: ${err instanceof Error ? err.message : String(err)}`
        }).pipe(Effect.result)
        if (wrote._tag === "Failure") problems.push(wrote.failure)
        else written.push(file)
      }
    }
    return { written, problems } as Downloaded
  }).pipe(
    Effect.provide(
      Controller.layer({ subjectPrefix: settings.subjectPrefix }).pipe(
        Layer.provideMerge(NatsConnection.layer({ url: settings.url, auth: settings.auth, name: `grid-results-${process.pid}` }))
      )
    )
  )
