// The node's journal of accepted tests: one small JSON file per test in `<root>/.grid-journal/`,
// written (temp file + rename) before `accepted` is published and removed only once the test's
// terminal event was handed to the event sink. A daemon killed with SIGKILL keeps no memory of
// its tests, and a restart inside the heartbeat TTL hides the loss from controllers; the
// journal is how the next life knows which tests it owes a terminal event: at start-up it
// publishes `failed` / `node_restarted` for every entry (with what the orphan sweep removed for
// that test) and drops the entry. Entries are bounded in size and decoded through a Schema:
// a corrupt one is logged and removed, never fatal.
// A test that ended leaves an empty marker in `<root>/.grid-ended/` (the last MAX_ENDED): a
// start whose ack a NATS crash lost is redelivered, and if the node restarted meanwhile, its
// next life must know that test already ran (a chaos run saw tests run twice that way).
import { Clock, Context, Effect, FileSystem, Layer, Option, Path, Schema } from "effect"
import type { Cleanup, GridEvent } from "../protocol/events.ts"
import { CommandId, Id, isId } from "../protocol/names.ts"
import type { EventSink } from "./EventSink.ts"

export const JournalEntry = Schema.Struct({
  testId: Id,
  commandId: CommandId,
  runner: Schema.String,
  tool: Schema.String,
  /** RFC 3339 */
  acceptedAt: Schema.String,
  labels: Schema.optional(Schema.Record(Schema.String, Schema.String))
})
export type JournalEntry = typeof JournalEntry.Type

const decodeEntry = Schema.decodeUnknownEffect(Schema.fromJsonString(JournalEntry))

/** An entry is a few hundred bytes; labels that would make it larger are left out. */
export const MAX_ENTRY_BYTES = 16 * 1024
export const journalDirName = ".grid-journal"
export const endedDirName = ".grid-ended"
/** Ended tests remembered across restarts; older markers are removed. */
export const MAX_ENDED = 1000

export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  message: Schema.String
}) {}

export class TestJournal extends Context.Service<TestJournal, {
  /** Durably notes an accepted test (before `accepted` is published). */
  readonly record: (entry: JournalEntry) => Effect.Effect<void, JournalError>
  /** Forgets a test whose terminal event is out, remembering only that it ran. Never fails
   * (a failure is logged). */
  readonly remove: (testId: string) => Effect.Effect<void>
  /** The entries an earlier life left; corrupt ones are logged and removed on the way. They
   * are remembered as lost (below). */
  readonly recover: Effect.Effect<ReadonlyArray<JournalEntry>>
  /** Whether this test already ran on this node, in this life or an earlier one (ended, or
   * recovered as lost with its `node_restarted` out): a start for it redelivered after a
   * restart (its ack lost) must not run it again. */
  readonly ran: (testId: string) => Effect.Effect<boolean>
}>()("grid/runner/TestJournal") {
  /** The journal below a node's work root (`<workDir>/<nodeId>`). */
  static readonly layer = (root: string) =>
    Layer.effect(
      TestJournal,
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = path.join(root, journalDirName)
        const fileOf = (testId: string) => path.join(dir, `${testId}.json`)
        const endedDir = path.join(root, endedDirName)
        const recovered = new Set<string>()

        const record = Effect.fn("journal.record")(function*(entry: JournalEntry) {
          let text = JSON.stringify(entry)
          if (Buffer.byteLength(text) > MAX_ENTRY_BYTES) text = JSON.stringify({ ...entry, labels: undefined })
          const file = fileOf(entry.testId)
          const temp = `${file}.tmp`
          const failed = (e: { message: string }) => new JournalError({ message: `cannot write the test journal ${file}: ${e.message}` })
          yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(failed))
          yield* fs.writeFileString(temp, text, { mode: 0o600 }).pipe(Effect.mapError(failed))
          yield* fs.rename(temp, file).pipe(Effect.mapError(failed))
        })

        /** The oldest ended markers beyond MAX_ENDED go. */
        const prune = Effect.gen(function*() {
          const names = yield* fs.readDirectory(endedDir)
          if (names.length <= MAX_ENDED) return
          const dated = yield* Effect.forEach(names, (name) =>
            Effect.map(fs.stat(path.join(endedDir, name)), (i) => ({ name, at: Option.getOrElse(i.mtime, () => new Date(0)).getTime() })))
          dated.sort((a, b) => a.at - b.at)
          yield* Effect.forEach(dated.slice(0, names.length - MAX_ENDED), (d) => fs.remove(path.join(endedDir, d.name), { force: true }), { discard: true })
        })

        const remove = (testId: string) =>
          fs.makeDirectory(endedDir, { recursive: true, mode: 0o700 }).pipe(
            Effect.andThen(fs.writeFileString(path.join(endedDir, testId), "", { mode: 0o600 })),
            Effect.andThen(fs.remove(fileOf(testId), { force: true })),
            Effect.andThen(prune),
            Effect.catch((e) => Effect.logWarning(`cannot move the journal entry of test ${testId} to ended: ${e.message}`))
          )

        const ran = (testId: string) =>
          recovered.has(testId) || !isId(testId)
            ? Effect.succeed(recovered.has(testId))
            : fs.exists(path.join(endedDir, testId)).pipe(Effect.orElseSucceed(() => false))

        const drop = (file: string, why: string) =>
          Effect.logWarning(`test journal: dropped ${file}: ${why}`).pipe(
            Effect.andThen(fs.remove(file, { force: true })),
            Effect.catch((e) => Effect.logWarning(`test journal: cannot remove ${file}: ${e.message}`))
          )

        const readEntry = (name: string) =>
          Effect.gen(function*() {
            const file = path.join(dir, name)
            const testId = name.endsWith(".json") ? name.slice(0, -".json".length) : ""
            if (!isId(testId)) return yield* Effect.as(drop(file, "not a journal entry"), undefined)
            const info = yield* fs.stat(file).pipe(Effect.option)
            if (info._tag === "None" || info.value.type !== "File") return yield* Effect.as(drop(file, "not a regular file"), undefined)
            if (Number(info.value.size) > MAX_ENTRY_BYTES) return yield* Effect.as(drop(file, `larger than ${MAX_ENTRY_BYTES} bytes`), undefined)
            const decoded = yield* fs.readFileString(file).pipe(
              Effect.mapError((e) => e.message),
              Effect.flatMap((text) => decodeEntry(text).pipe(Effect.mapError((e) => e.message))),
              Effect.result
            )
            if (decoded._tag === "Failure") return yield* Effect.as(drop(file, decoded.failure), undefined)
            if (decoded.success.testId !== testId) return yield* Effect.as(drop(file, "its test id does not match its name"), undefined)
            return decoded.success
          })

        const recover = Effect.gen(function*() {
          const names = yield* fs.readDirectory(dir).pipe(
            Effect.catch((e) =>
              (e.reason._tag === "NotFound" ? Effect.void : Effect.logWarning(`test journal: cannot list ${dir}: ${e.message}`)).pipe(
                Effect.as([] as Array<string>)
              )
            )
          )
          const entries: Array<JournalEntry> = []
          for (const name of names.sort()) {
            const entry = yield* readEntry(name)
            if (entry !== undefined) {
              entries.push(entry)
              recovered.add(entry.testId)
            }
          }
          return entries
        }).pipe(Effect.withSpan("journal.recover"))

        return TestJournal.of({ record, remove, recover, ran })
      })
    )
}

/** What the start-up sweep removed or failed to remove, per test id. */
export type CleanupByTest = ReadonlyMap<string, { readonly removed: ReadonlyArray<string>; readonly errors: ReadonlyArray<string> }>

/** At start-up, after the orphan sweep: one `failed` / `node_restarted` per test the journal
 * holds, carrying that test's part of the sweep's report; each entry is removed once its event
 * is with the sink. Returns the test ids reported. */
export const reportRestartedTests = Effect.fn("journal.reportRestarted")(function*(
  nodeId: string,
  journal: TestJournal["Service"],
  events: EventSink["Service"],
  swept: CleanupByTest
) {
  const entries = yield* journal.recover
  for (const entry of entries) {
    const part = swept.get(entry.testId) ?? { removed: [], errors: [] }
    const cleanup: Cleanup = { ok: part.errors.length === 0, removed: part.removed, errors: part.errors }
    const at = new Date(yield* Clock.currentTimeMillis).toISOString()
    const event: GridEvent = {
      kind: "failed",
      testId: entry.testId,
      nodeId,
      commandId: entry.commandId,
      at,
      labels: entry.labels,
      error: {
        code: "node_restarted",
        message: `the node restarted while this test ran (its earlier process ended without stopping it, accepted at ${entry.acceptedAt}); what was left of it was removed`
      },
      summary: null,
      cleanup
    }
    yield* events.publish(event)
    yield* journal.remove(entry.testId)
    yield* Effect.logWarning(`test ${entry.testId} was lost in a restart: published failed (node_restarted)`)
  }
  return entries.map((e) => e.testId)
})
