// The node's journal of accepted tests: one small JSON file per test in `<root>/.grid-journal/`,
// written (temp file + rename) before `accepted` is published and removed only once the test's
// terminal event was handed to the event sink. A daemon killed with SIGKILL keeps no memory of
// its tests, and a restart inside the heartbeat TTL hides the loss from controllers; the
// journal is how the next life knows which tests it owes a terminal event: at start-up it
// publishes `failed` / `node_restarted` for every entry (with what the orphan sweep removed for
// that test) and drops the entry. Entries are bounded in size and decoded through a Schema:
// a corrupt one is logged and removed, never fatal.
import { Clock, Context, Effect, FileSystem, Layer, Path, Schema } from "effect"
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

export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  message: Schema.String
}) {}

export class TestJournal extends Context.Service<TestJournal, {
  /** Durably notes an accepted test (before `accepted` is published). */
  readonly record: (entry: JournalEntry) => Effect.Effect<void, JournalError>
  /** Forgets a test whose terminal event is out. Never fails (a failure is logged). */
  readonly remove: (testId: string) => Effect.Effect<void>
  /** The entries an earlier life left; corrupt ones are logged and removed on the way. They
   * are remembered as lost (below). */
  readonly recover: Effect.Effect<ReadonlyArray<JournalEntry>>
  /** Whether this test was recovered as lost (its `node_restarted` is out): a start for it
   * redelivered after the restart (the earlier life died before acking it) must not run it again. */
  readonly lost: (testId: string) => Effect.Effect<boolean>
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

        const remove = (testId: string) =>
          fs.remove(fileOf(testId), { force: true }).pipe(
            Effect.catch((e) => Effect.logWarning(`cannot remove the journal entry of test ${testId}: ${e.message}`))
          )

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

        return TestJournal.of({ record, remove, recover, lost: (testId) => Effect.sync(() => recovered.has(testId)) })
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
