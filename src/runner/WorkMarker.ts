// Ownership markers: a `.grid-node` file in a node's work root (`{nodeId}`) and in each test's
// work directory (`{nodeId, testId}`), written when the node creates them. The orphan sweep
// removes a directory only when its marker names this node (and that test): a directory it
// cannot prove it created stays, whoever else made it. Two nodes whose roots nest
// (`--work-dir /tmp/x --node-id work` and `--work-dir /tmp/x/work`) so never remove each
// other's folders. Markers are read without following symlinks and decoded through a Schema.
import { Effect, FileSystem, Path, Schema } from "effect"
import { Id } from "../protocol/names.ts"

export const markerFile = ".grid-node"

const Marker = Schema.Struct({ nodeId: Id, testId: Schema.optional(Id) })
type Marker = typeof Marker.Type
const decodeMarker = Schema.decodeUnknownEffect(Schema.fromJsonString(Marker))

/** Markers are a few dozen bytes; anything larger is not one. */
const MAX_MARKER_BYTES = 512

/** Writes `dir`'s marker (replacing a previous one of this node's root). */
export const writeMarker = (dir: string, marker: Marker) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(dir, markerFile)
    const temp = `${file}.tmp`
    yield* fs.writeFileString(temp, JSON.stringify(marker), { mode: 0o600 })
    yield* fs.rename(temp, file)
  })

/** The marker of `dir`, if it has a readable one (a regular file, not a symlink). */
export const readMarker = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(dir, markerFile)
    const info = yield* fs.lstat(file)
    if (info.type !== "File" || Number(info.size) > MAX_MARKER_BYTES) return undefined
    return yield* decodeMarker(yield* fs.readFileString(file))
  }).pipe(Effect.orElseSucceed(() => undefined))

/** Whether `dir` is a real directory (not a symlink to one) whose marker names this node and,
 * for a test's directory, that test. */
export const ownedBy = (dir: string, nodeId: string, testId?: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.lstat(dir).pipe(Effect.option)
    if (info._tag === "None" || info.value.type !== "Directory") return false
    const marker = yield* readMarker(dir)
    return marker !== undefined && marker.nodeId === nodeId && marker.testId === testId
  })
