// At the end of a test, before its work directory is removed: the regular files of its
// `screenshots/` folder go to the ArtifactStore, and what was stored is listed in the terminal
// event. The tool controls that folder (a process, or a container writing through its mount),
// so only regular files directly inside it are read, each opened with the checks of
// src/ingest/WorkFile.ts (no symlink, no FIFO, nothing that leads out of the work directory);
// the folder itself must be a real directory. Nothing else of the work directory is read back.
import { Effect, Option } from "effect"
import { closeSync, fstatSync, lstatSync, readdirSync, readSync } from "node:fs"
import { join } from "node:path"
import { openInside } from "../ingest/WorkFile.ts"
import { artifactName, type ArtifactRef, ArtifactStore } from "./ArtifactStore.ts"

/** The folder of a test's work directory the browser engine writes its screenshots to
 * (GRID_BROWSER_SCREENSHOTS of the builtin tool, src/tools/builtin.ts). */
export const SCREENSHOTS = "screenshots"

interface Found {
  readonly name: string
  readonly data: Uint8Array
}

/** The regular files of `<workDir>/screenshots`, by name, within the bounds; why others were skipped. */
const readFolder = (workDir: string, maxCount: number, maxBytes: number): { found: Array<Found>; skipped: Array<string> } => {
  const dir = join(workDir, SCREENSHOTS)
  const found: Array<Found> = []
  const skipped: Array<string> = []
  let folder
  try {
    folder = lstatSync(dir)
  } catch {
    return { found, skipped }
  }
  if (!folder.isDirectory()) return { found, skipped: [`${SCREENSHOTS} is not a directory`] }
  let left = maxBytes
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    // Dirent types come from lstat: a symlink is no file here, whatever it points to.
    if (!entry.isFile()) {
      skipped.push(`${entry.name}: not a regular file`)
      continue
    }
    const name = artifactName(entry.name)
    if (name === undefined) {
      skipped.push(`${entry.name.slice(0, 100)}: not a plain file name`)
      continue
    }
    if (found.length >= maxCount) {
      skipped.push(`${name}: over ${maxCount} files`)
      continue
    }
    try {
      const fd = openInside(join(dir, name), workDir)
      if (fd === undefined) continue
      try {
        const size = fstatSync(fd).size
        if (size > left) {
          skipped.push(`${name}: over ${maxBytes} bytes in all`)
          continue
        }
        const data = Buffer.allocUnsafe(size)
        let n = 0
        while (n < size) {
          const got = readSync(fd, data, n, size - n, n)
          if (got === 0) break
          n += got
        }
        left -= n
        found.push({ name, data: data.subarray(0, n) })
      } finally {
        closeSync(fd)
      }
    } catch (e) {
      skipped.push(`${name}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  return { found, skipped }
}

/** Stores the test's screenshots; the refs of those stored (empty when the node keeps none). */
export const publishArtifacts = Effect.fn("runner.publishArtifacts")(function*(testId: string, workDir: string) {
  const store = yield* Effect.serviceOption(ArtifactStore)
  if (Option.isNone(store) || !store.value.keeps) return [] as ReadonlyArray<ArtifactRef>
  const { limits, put } = store.value
  const read = yield* Effect.try({
    try: () => readFolder(workDir, limits.maxCount, limits.maxBytes),
    catch: (e) => (e instanceof Error ? e.message : String(e))
  }).pipe(Effect.catch((message) => Effect.as(Effect.logWarning(`test ${testId}: screenshots not read: ${message}`), { found: [], skipped: [] })))
  for (const why of read.skipped.slice(0, 10)) yield* Effect.logWarning(`test ${testId}: screenshot not kept: ${why}`)
  const refs: Array<ArtifactRef> = []
  // A store that is away (NATS down: each put waits for its timeout) must not hold the
  // terminal event for a hundred timeouts: three failures in a row end the attempt.
  let failedInRow = 0
  for (const file of read.found) {
    const stored = yield* Effect.result(put(testId, file.name, file.data))
    if (stored._tag === "Success") {
      refs.push(stored.success)
      failedInRow = 0
      continue
    }
    yield* Effect.logWarning(`test ${testId}: screenshot ${file.name} not stored: ${stored.failure.message}`)
    if (++failedInRow >= 3) {
      yield* Effect.logWarning(`test ${testId}: the artifact store failed 3 times in a row; the other screenshots are not kept`)
      break
    }
  }
  return refs as ReadonlyArray<ArtifactRef>
})
