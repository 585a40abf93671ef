// Control commands of docs/protocol.md (`grid.control.node.<nodeId>`), as effect Schemas.
// Unknown fields are ignored (readers never reject them); the decoder in
// src/control/decodeCommand.ts turns raw bytes into one of these or a typed rejection.
import { Schema } from "effect"
import { CommandId, Id } from "./names.ts"

export const tools = ["builtin", "jmeter", "locust", "k6", "artillery", "gatling", "command"] as const
export type ToolName = (typeof tools)[number]

const Time = Schema.String.check(
  Schema.makeFilter((s: string) => !Number.isNaN(Date.parse(s)) || "must be an RFC 3339 time")
)
const StringMap = Schema.Record(Schema.String, Schema.String)
const EnvValue = Schema.String.check(
  Schema.makeFilter((s: string) => !s.includes("\0") || "must not contain NUL")
)
/** Names must be what execve and `docker run -e` carry unchanged. Checked on the whole record:
 * a key schema would silently drop a bad name rather than refuse it. */
const badEnvName = (name: string) => name.length === 0 || name.length > 256 || name.includes("=") || name.includes("\0")
const Env = Schema.Record(Schema.String, EnvValue).check(
  Schema.makeFilter((env: Readonly<Record<string, string>>) => {
    const bad = Object.keys(env).find(badEnvName)
    return bad === undefined || `has a variable name ${JSON.stringify(bad.slice(0, 40))}: names must be 1-256 characters without '=' or NUL`
  })
)
const NonNegative = Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Schema.Number.check(Schema.isGreaterThan(0))

export const FileSpec = Schema.Struct({
  path: Schema.String.check(Schema.isMinLength(1)),
  content: Schema.String,
  encoding: Schema.optional(Schema.Literals(["utf8", "base64"])),
  mode: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0o777 })))
})
export type FileSpec = typeof FileSpec.Type

export const Limits = Schema.Struct({
  maxDurationSeconds: Schema.optional(Positive),
  cpus: Schema.optional(Positive),
  memoryMb: Schema.optional(Positive)
})
export type Limits = typeof Limits.Type

export const StartCommand = Schema.Struct({
  kind: Schema.Literal("start"),
  commandId: CommandId,
  testId: Id,
  /** Checked against {@link tools} after decoding, so an unknown tool is `unsupported_tool`. */
  tool: Schema.String,
  runner: Schema.optional(Schema.Literals(["process", "docker"])),
  image: Schema.optional(Schema.String),
  files: Schema.optional(Schema.Array(FileSpec)),
  entry: Schema.optional(Schema.String),
  params: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  env: Schema.optional(Env),
  limits: Schema.optional(Limits),
  startAt: Schema.optional(Time),
  barrier: Schema.optional(Schema.Boolean),
  notAfter: Schema.optional(Time),
  labels: Schema.optional(StringMap),
  /** W3C trace context of the launch (traceContext.ts); a malformed one is ignored, not refused. */
  traceparent: Schema.optional(Schema.String),
  /** The launch holds a lease (key `testId` of `grid_leases`): unrenewed this long, the node stops the test. */
  leaseSeconds: Schema.optional(Positive)
})
export type StartCommand = typeof StartCommand.Type

export const StopCommand = Schema.Struct({
  kind: Schema.Literal("stop"),
  commandId: CommandId,
  testId: Id,
  reason: Schema.optional(Schema.String),
  graceSeconds: Schema.optional(NonNegative)
})
export type StopCommand = typeof StopCommand.Type

export const GoCommand = Schema.Struct({
  kind: Schema.Literal("go"),
  commandId: CommandId,
  testId: Id
})
export type GoCommand = typeof GoCommand.Type

export const DrainCommand = Schema.Struct({
  kind: Schema.Literal("drain"),
  commandId: CommandId
})
export type DrainCommand = typeof DrainCommand.Type

export const Command = Schema.Union([StartCommand, StopCommand, GoCommand, DrainCommand])
export type Command = typeof Command.Type

export const commandSchemas = {
  start: StartCommand,
  stop: StopCommand,
  go: GoCommand,
  drain: DrainCommand
} as const
