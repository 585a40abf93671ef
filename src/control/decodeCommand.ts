// Raw control-message bytes -> a typed command, or a typed rejection with a protocol code
// and a readable message. Pure and synchronous: the control listener calls it per message.
// Size and nesting are checked before anything walks the value, and a rejection echoes at
// most a short prefix of the input (src/protocol/bounded.ts), so no command can overflow the
// stack or grow its own rejection past NATS's payload limit.
import { Result, Schema, SchemaIssue } from "effect"
import { clip, jsonDepth, MAX_DEPTH, MESSAGE_CHARS, preview } from "../protocol/bounded.ts"
import { type Command, commandSchemas, tools } from "../protocol/commands.ts"
import type { RejectCode } from "../protocol/events.ts"
import { isId } from "../protocol/names.ts"

export interface Rejection {
  readonly code: RejectCode
  readonly message: string
  /** Present when the raw command had a readable testId (the event goes on its subject). */
  readonly testId?: string | undefined
  readonly commandId?: string | undefined
}

const formatIssue = SchemaIssue.makeFormatterDefault()
const decoders: Record<Command["kind"], (u: unknown) => Result.Result<Command, Schema.SchemaError>> = {
  start: Schema.decodeUnknownResult(commandSchemas.start),
  stop: Schema.decodeUnknownResult(commandSchemas.stop),
  go: Schema.decodeUnknownResult(commandSchemas.go),
  drain: Schema.decodeUnknownResult(commandSchemas.drain)
}
const textDecoder = new TextDecoder("utf-8", { fatal: true })

export const decodeCommand = (data: Uint8Array, maxBytes: number): Result.Result<Command, Rejection> => {
  if (data.byteLength > maxBytes) {
    return Result.fail({
      code: "invalid_command",
      message: `command is ${data.byteLength} bytes, more than the node's limit of ${maxBytes}`
    })
  }
  let raw: unknown
  try {
    const text = textDecoder.decode(data)
    if (jsonDepth(text) > MAX_DEPTH) {
      return Result.fail({ code: "invalid_command", message: `command is nested more than ${MAX_DEPTH} levels deep` })
    }
    raw = JSON.parse(text)
  } catch (e) {
    return Result.fail({ code: "invalid_command", message: clip(`command is not UTF-8 JSON: ${(e as Error).message}`) })
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return Result.fail({ code: "invalid_command", message: "command must be a JSON object" })
  }
  const obj = raw as Record<string, unknown>
  const testId = isId(obj.testId) ? obj.testId : undefined
  const commandId = typeof obj.commandId === "string" && obj.commandId.length > 0 && obj.commandId.length <= 128
    ? obj.commandId
    : undefined
  const reject = (code: RejectCode, message: string) =>
    Result.fail<Rejection>({ code, message: clip(message, MESSAGE_CHARS), testId, commandId })
  const kind = obj.kind
  if (kind !== "start" && kind !== "stop" && kind !== "go" && kind !== "drain") {
    return reject("invalid_command", `unknown command kind ${preview(kind)}; expected start, stop, go or drain`)
  }
  const decoded = decoders[kind](raw)
  if (Result.isFailure(decoded)) {
    return reject("invalid_command", `invalid ${kind} command: ${formatIssue(decoded.failure.issue)}`)
  }
  const command = decoded.success
  if (command.kind === "start") {
    if (!(tools as ReadonlyArray<string>).includes(command.tool)) {
      return reject("unsupported_tool", `tool ${preview(command.tool)} is not one of ${tools.join(", ")}`)
    }
    for (const file of command.files ?? []) {
      const problem = checkRelativePath(file.path)
      if (problem) return reject("invalid_command", `file ${preview(file.path)} ${problem}`)
    }
    if (command.entry !== undefined) {
      const problem = checkRelativePath(command.entry)
      if (problem) return reject("invalid_command", `entry ${preview(command.entry)} ${problem}`)
    }
  }
  return Result.succeed(command)
}

/** Static check of a work-directory-relative path; symlinks are checked again when writing. */
export const checkRelativePath = (path: string): string | undefined => {
  if (path.includes("\0")) return "contains a NUL byte"
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) return "is absolute"
  const parts = path.split(/[/\\]+/)
  let depth = 0
  for (const part of parts) {
    if (part === "..") depth--
    else if (part !== "." && part !== "") depth++
    if (depth < 0) return "escapes the work directory"
  }
  if (depth === 0) return "names the work directory itself"
  return undefined
}

const TraceField = Schema.fromJsonString(Schema.Struct({ traceparent: Schema.optional(Schema.String) }))
const decodeTraceField = Schema.decodeUnknownOption(TraceField)
const TRACEPARENT_BYTES = new TextEncoder().encode("\"traceparent\"")

/** The `traceparent` of a start command, read before the command is decoded so the spans of
 * its decoding already belong to the launch's trace. Only commands that carry one pay a second
 * parse; anything unreadable has none (decodeCommand says what is wrong with it). */
export const traceparentOf = (data: Uint8Array, maxBytes: number): string | undefined => {
  if (data.byteLength > maxBytes || Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(TRACEPARENT_BYTES) < 0) return undefined
  let text: string
  try {
    text = textDecoder.decode(data)
  } catch {
    return undefined
  }
  if (jsonDepth(text) > MAX_DEPTH) return undefined
  const read = decodeTraceField(text)
  return read._tag === "Some" ? read.value.traceparent : undefined
}
