// Events of docs/protocol.md (`grid.events.<testId>.<nodeId>`, stream GRID_EVENTS): the
// types the node publishes and a controller reads. Built by the runner and the control
// listener, published through the EventSink service (transport-agnostic).
import { Result, Schema } from "effect"
import { clip, ECHO_CHARS, MESSAGE_CHARS } from "./bounded.ts"
import { Summary } from "./results.ts"

export const rejectCodes = [
  "invalid_command",
  "unsupported_tool",
  "busy",
  "expired",
  "unknown_test",
  "draining",
  "duplicate_test",
  "internal_error",
  "workdir_failed",
  "target_not_allowed",
  "paused"
] as const
export const RejectCode = Schema.Literals(rejectCodes)
export type RejectCode = typeof RejectCode.Type

export const Cleanup = Schema.Struct({
  ok: Schema.Boolean,
  removed: Schema.Array(Schema.String),
  errors: Schema.Array(Schema.String)
})
export type Cleanup = typeof Cleanup.Type

/** The run's `summary` (src/protocol/results.ts) plus this node's extensions:
 * `unackedWindows` (result windows not acknowledged by JetStream when the event was sent) and
 * `badLines` (result lines the parser could not read). */
export const RunSummary = Schema.Struct({
  ...Summary.fields,
  unackedWindows: Schema.optional(Schema.Number),
  badLines: Schema.optional(Schema.Number)
})
export type RunSummary = typeof RunSummary.Type

export const ErrorInfo = Schema.Struct({ code: Schema.String, message: Schema.String })

/** A file the node kept from the test (a failed browser step's screenshot): `name` in the test's
 * screenshot folder, its size, and where it is stored (docs/protocol.md "Artifacts"). */
export const Artifact = Schema.Struct({
  name: Schema.String.check(Schema.isMaxLength(100)),
  bytes: Schema.Number,
  bucket: Schema.String.check(Schema.isMaxLength(256)),
  key: Schema.String.check(Schema.isMaxLength(512))
})
export type Artifact = typeof Artifact.Type
/** At most 100 (the node's bound), so a terminal event stays far below max_payload. */
export const MAX_ARTIFACTS = 100
const artifacts = Schema.optional(Schema.Array(Artifact).check(Schema.isMaxLength(MAX_ARTIFACTS)))
export type ErrorInfo = typeof ErrorInfo.Type

/** Fields every event has. `testId` is absent on `grid.events._.<nodeId>`; `truncated` marks
 * the substitute of an event too large for the wire (src/protocol/encodeEvent.ts). */
const base = {
  testId: Schema.optional(Schema.String),
  nodeId: Schema.String,
  commandId: Schema.optional(Schema.String),
  /** RFC 3339 */
  at: Schema.String,
  labels: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  truncated: Schema.optional(Schema.Boolean)
}
const event = <K extends string, F extends Schema.Struct.Fields>(kind: K, fields: F) =>
  Schema.Struct({ kind: Schema.Literal(kind), ...base, ...fields })

/** A flag's value as the `accepted` event carries it. */
export const FlagValueSchema = Schema.Union([Schema.String, Schema.Number, Schema.Boolean])
export const AcceptedEvent = event("accepted", {
  runner: Schema.String,
  tool: Schema.String,
  /** The effective flags the test runs under (issue #13); nodes older than flags send none. */
  flags: Schema.optional(Schema.Record(Schema.String, FlagValueSchema)),
  /** The highest `grid_flags` revision those flags include. */
  flagsRevision: Schema.optional(Schema.Number)
})
/** Readers take any code: a newer node may refuse for a reason this reader does not know yet
 * (the node itself only builds the codes of `rejectCodes`, see `rejectedEvent`). */
export const RejectedEvent = event("rejected", { code: Schema.String, message: Schema.String })
export const ReadyEvent = event("ready", {})
export const StartedEvent = event("started", { pid: Schema.optional(Schema.Number), containerId: Schema.optional(Schema.String) })
export const FinishedEvent = event("finished", {
  exitCode: Schema.NullOr(Schema.Number),
  summary: Schema.NullOr(RunSummary),
  cleanup: Cleanup,
  artifacts
})
export const FailedEvent = event("failed", { error: ErrorInfo, cleanup: Cleanup, summary: Schema.optional(Schema.NullOr(RunSummary)), artifacts })
export const StoppedEvent = event("stopped", { reason: Schema.String, cleanup: Cleanup, summary: Schema.optional(Schema.NullOr(RunSummary)), artifacts })

/** Every event kind of docs/protocol.md, discriminated by `kind`; unknown fields are dropped. */
export const GridEvent = Schema.Union([AcceptedEvent, RejectedEvent, ReadyEvent, StartedEvent, FinishedEvent, FailedEvent, StoppedEvent])
export type GridEvent = typeof GridEvent.Type

export type EventKind = GridEvent["kind"]

/** A `rejected` event; `testId` undefined puts it on `grid.events._.<nodeId>`. */
export const rejectedEvent = (
  nodeId: string,
  command: { readonly commandId?: string | undefined; readonly testId?: string | undefined },
  code: RejectCode,
  message: string,
  atMs: number
): GridEvent => ({
  kind: "rejected",
  code,
  message: clip(message, MESSAGE_CHARS),
  testId: command.testId,
  nodeId,
  commandId: command.commandId,
  at: new Date(atMs).toISOString()
})
export const terminalKinds: ReadonlyArray<EventKind> = ["finished", "failed", "stopped"]
export const eventKinds: ReadonlyArray<EventKind> = ["accepted", "rejected", "ready", "started", "finished", "failed", "stopped"]

/** An event of a kind this reader does not know (a newer node's): its envelope only, so the
 * reader still sees that the node is alive and what it sent, and goes on. */
export const UnknownEventEnvelope = Schema.Struct({
  kind: Schema.String,
  testId: base.testId,
  nodeId: base.nodeId,
  commandId: base.commandId,
  at: base.at
})
export type UnknownEvent = {
  readonly kind: "unknown"
  /** The `kind` as sent. */
  readonly wireKind: string
  readonly testId?: string | undefined
  readonly nodeId: string
  readonly commandId?: string | undefined
  readonly at: string
}
/** What a reader gets from `grid.events.>`: a known event, or one of a kind it does not know. */
export type ReadEvent = GridEvent | UnknownEvent

const decodeKnown = Schema.decodeUnknownResult(GridEvent)
const decodeEnvelope = Schema.decodeUnknownResult(UnknownEventEnvelope)
const decodeJson = Schema.decodeUnknownResult(Schema.fromJsonString(Schema.Unknown))

/**
 * An event message (its JSON text) read through the schemas: a known kind must decode whole;
 * an unknown kind is kept as such (a newer node may add kinds). The failure is one line,
 * at most {@link ECHO_CHARS} characters of the message plus the schema's complaint, cut.
 */
export const readEvent = (text: string): Result.Result<ReadEvent, string> => {
  const fail = (why: string) => Result.fail(clip(`${why}: ${clip(text, ECHO_CHARS)}`, MESSAGE_CHARS))
  const json = decodeJson(text)
  if (Result.isFailure(json)) return fail("not JSON")
  const value = json.success
  const kind = typeof value === "object" && value !== null ? (value as { kind?: unknown }).kind : undefined
  if (typeof kind === "string" && !(eventKinds as ReadonlyArray<string>).includes(kind)) {
    const env = decodeEnvelope(value)
    if (Result.isFailure(env)) return fail(`not an event (${clip(String(env.failure), ECHO_CHARS)})`)
    const { kind: wireKind, ...rest } = env.success
    return Result.succeed({ ...rest, kind: "unknown", wireKind })
  }
  const known = decodeKnown(value)
  return Result.isFailure(known) ? fail(`not an event (${clip(String(known.failure), ECHO_CHARS)})`) : Result.succeed(known.success)
}

/** The wire form: `testId` of an event without a readable test is omitted. */
export const toWire = (event: GridEvent): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(event)) if (v !== undefined) out[k] = v
  return out
}
