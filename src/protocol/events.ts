// Events of docs/protocol.md (`grid.events.<testId>.<nodeId>`, stream GRID_EVENTS): the
// types the node publishes and a controller reads. Built by the runner and the control
// listener, published through the EventSink service (transport-agnostic).
import { clip, MESSAGE_CHARS } from "./bounded.ts"
import type { Summary } from "./results.ts"

export const rejectCodes = [
  "invalid_command",
  "unsupported_tool",
  "busy",
  "expired",
  "unknown_test",
  "draining",
  "duplicate_test",
  "internal_error",
  "workdir_failed"
] as const
export type RejectCode = (typeof rejectCodes)[number]

export interface Cleanup {
  readonly ok: boolean
  readonly removed: ReadonlyArray<string>
  readonly errors: ReadonlyArray<string>
}

/** The run's `summary` (src/protocol/results.ts) plus this node's extensions. */
export type RunSummary = Summary & {
  /** Result windows not acknowledged by JetStream when the event was sent. */
  readonly unackedWindows?: number
  /** Result lines the parser could not read. */
  readonly badLines?: number
}

export interface ErrorInfo {
  readonly code: string
  readonly message: string
}

interface Base {
  readonly testId: string | undefined
  readonly nodeId: string
  readonly commandId?: string | undefined
  /** RFC 3339 */
  readonly at: string
  readonly labels?: Readonly<Record<string, string>> | undefined
}

export type GridEvent =
  | Base & { readonly kind: "accepted"; readonly runner: string; readonly tool: string }
  | Base & { readonly kind: "rejected"; readonly code: RejectCode; readonly message: string }
  | Base & { readonly kind: "ready" }
  | Base & { readonly kind: "started"; readonly pid?: number; readonly containerId?: string }
  | Base & {
    readonly kind: "finished"
    readonly exitCode: number | null
    readonly summary: RunSummary | null
    readonly cleanup: Cleanup
  }
  | Base & { readonly kind: "failed"; readonly error: ErrorInfo; readonly cleanup: Cleanup; readonly summary?: RunSummary | null }
  | Base & { readonly kind: "stopped"; readonly reason: string; readonly cleanup: Cleanup; readonly summary?: RunSummary | null }

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

/** The wire form: `testId` of an event without a readable test is omitted. */
export const toWire = (event: GridEvent): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(event)) if (v !== undefined) out[k] = v
  return out
}
