// An event as the bytes that go on the wire, never more than the transport can carry. An
// event is small by construction, but it echoes the start command's `labels` and carries
// messages and cleanup lists; when the whole is over the limit it is replaced by a substitute
// with the same kind and ids, `labels` dropped, every text cut short, and `truncated: true`,
// so a controller still sees the test's life and end.
import { clip } from "./bounded.ts"
import { type GridEvent, toWire } from "./events.ts"

const encoder = new TextEncoder()
const LIST_ITEMS = 20

const cutList = (items: unknown): ReadonlyArray<string> | undefined =>
  Array.isArray(items)
    ? [...items.slice(0, LIST_ITEMS).map((s) => clip(String(s))), ...(items.length > LIST_ITEMS ? [`…[${items.length - LIST_ITEMS} more cut]`] : [])]
    : undefined

/** The substitute: the same kind, ids and time; short texts; no labels. */
const substitute = (wire: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key of ["kind", "testId", "nodeId", "commandId", "at", "code", "runner", "tool", "pid", "containerId", "exitCode", "summary"]) {
    const v = wire[key]
    if (v !== undefined) out[key] = typeof v === "string" ? clip(v) : v
  }
  if (typeof wire.message === "string") out.message = clip(wire.message)
  if (typeof wire.reason === "string") out.reason = clip(wire.reason)
  const error = wire.error as { code?: unknown; message?: unknown } | undefined
  if (error !== undefined) out.error = { code: clip(String(error.code)), message: clip(String(error.message)) }
  const cleanup = wire.cleanup as { ok?: unknown; removed?: unknown; errors?: unknown } | undefined
  if (cleanup !== undefined) out.cleanup = { ok: cleanup.ok === true, removed: cutList(cleanup.removed) ?? [], errors: cutList(cleanup.errors) ?? [] }
  out.truncated = true
  return out
}

/**
 * The event's JSON bytes if they fit in `maxBytes`, else its substitute's; undefined when even
 * the substitute does not fit (a limit too small to carry any event: the caller drops it).
 */
export const encodeEvent = (event: GridEvent, maxBytes: number): Uint8Array | undefined => {
  const wire = toWire(event)
  const whole = encoder.encode(JSON.stringify(wire))
  if (whole.byteLength <= maxBytes) return whole
  const small = encoder.encode(JSON.stringify(substitute(wire)))
  return small.byteLength <= maxBytes ? small : undefined
}
