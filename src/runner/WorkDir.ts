// A test's work directory as a scoped resource: created under the node's work-dir root as
// `<root>/<testId>`, filled with the command's files, removed when the test's scope closes
// (whatever ended it). Paths that escape it (absolute, `..`, or through a symlink) fail the
// whole command as `invalid_command`. The root and each test's directory get an ownership
// marker (WorkMarker.ts), so the orphan sweep removes only what this node provably created.
import { Effect, FileSystem, Path, Schema, type Scope } from "effect"
import type { FileSpec } from "../protocol/commands.ts"
import { checkRelativePath } from "../control/decodeCommand.ts"
import type { CleanupLog } from "./CleanupLog.ts"
import { ownedBy, readMarker, writeMarker } from "./WorkMarker.ts"

export class WorkDirError extends Schema.TaggedError<WorkDirError>()("WorkDirError", {
  /** `invalid_command` for a path that escapes, `workdir_failed` for an I/O failure. */
  code: Schema.String,
  message: Schema.String
}) {}

export const makeWorkDir = Effect.fnUntraced(function*(
  root: string,
  nodeId: string,
  testId: string,
  cleanup: CleanupLog
): Effect.fn.Return<string, WorkDirError, FileSystem.FileSystem | Path.Path | Scope.Scope> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const ioError = (what: string) => (e: { message: string }) =>
    new WorkDirError({ code: "workdir_failed", message: `${what}: ${e.message}` })
  yield* fs.makeDirectory(root, { recursive: true }).pipe(Effect.mapError(ioError(`cannot create ${root}`)))
  const realRoot = yield* fs.realPath(root).pipe(Effect.mapError(ioError(`cannot resolve ${root}`)))
  const rootMarker = yield* readMarker(realRoot)
  if (rootMarker === undefined) {
    yield* writeMarker(realRoot, { nodeId }).pipe(Effect.mapError(ioError(`cannot mark ${root}`)))
  } else if (rootMarker.nodeId !== nodeId || rootMarker.testId !== undefined) {
    return yield* new WorkDirError({ code: "workdir_failed", message: `${root} belongs to ${rootMarker.testId !== undefined ? "a test of " : ""}node ${rootMarker.nodeId}` })
  }
  const dir = path.join(realRoot, testId)
  // A leftover of this node with the same test id (a killed daemon's) is stale by definition;
  // anything else in the way is not this node's to remove.
  if ((yield* fs.lstat(dir).pipe(Effect.option))._tag === "Some") {
    if (!(yield* ownedBy(dir, nodeId, testId))) {
      return yield* new WorkDirError({ code: "workdir_failed", message: `${dir} exists and was not made by this node for this test` })
    }
    yield* fs.remove(dir, { recursive: true, force: true }).pipe(Effect.ignore)
  }
  yield* Effect.acquireRelease(
    fs.makeDirectory(dir, { mode: 0o700 }).pipe(Effect.as(dir), Effect.mapError(ioError(`cannot create ${dir}`))),
    (dir) =>
      fs.remove(dir, { recursive: true, force: true }).pipe(
        Effect.matchEffect({
          onSuccess: () => cleanup.removed(`workdir ${dir}`),
          onFailure: (e) => cleanup.error(`workdir ${dir}: ${e.message}`)
        })
      )
  )
  yield* writeMarker(dir, { nodeId, testId }).pipe(Effect.mapError(ioError(`cannot mark ${dir}`)))
  return dir
})

export const writeFiles = Effect.fnUntraced(function*(
  dir: string,
  files: ReadonlyArray<FileSpec>
): Effect.fn.Return<void, WorkDirError, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const escape = (p: string, why: string) =>
    new WorkDirError({ code: "invalid_command", message: `file ${JSON.stringify(p)} ${why}` })
  const ioError = (p: string) => (e: { message: string }) =>
    new WorkDirError({ code: "workdir_failed", message: `cannot write ${JSON.stringify(p)}: ${e.message}` })
  for (const file of files) {
    const problem = checkRelativePath(file.path)
    if (problem) return yield* escape(file.path, problem)
    const target = path.resolve(dir, file.path)
    const parent = path.dirname(target)
    yield* fs.makeDirectory(parent, { recursive: true }).pipe(Effect.mapError(ioError(file.path)))
    // A symlink among the parents could point outside: compare real paths.
    const realParent = yield* fs.realPath(parent).pipe(Effect.mapError(ioError(file.path)))
    if (realParent !== dir && !realParent.startsWith(dir + path.sep)) {
      return yield* escape(file.path, "escapes the work directory through a symlink")
    }
    const data = file.encoding === "base64"
      ? Buffer.from(file.content, "base64")
      : new TextEncoder().encode(file.content)
    // "wx": never write through an existing file or symlink (two entries with one path).
    yield* fs.writeFile(path.join(realParent, path.basename(target)), data, { flag: "wx", mode: file.mode ?? 0o644 }).pipe(
      Effect.mapError((e) =>
        e.message.includes("EEXIST") || (e as { reason?: { _tag?: string } }).reason?._tag === "AlreadyExists"
          ? escape(file.path, "is given twice or already exists")
          : ioError(file.path)(e)
      )
    )
    if (file.mode !== undefined) yield* fs.chmod(path.join(realParent, path.basename(target)), file.mode).pipe(Effect.mapError(ioError(file.path)))
  }
})

/** Each node has its own folder below the work-dir root, so several nodes can share a root
 * and a node's sweep never touches another's tests. */
export const nodeWorkRoot = (config: { readonly workDir: string; readonly nodeId: string }) =>
  `${config.workDir.replace(/\/+$/, "")}/${config.nodeId}`
