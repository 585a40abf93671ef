// Bounds on what the node echoes and parses. Anything taken from a message (a tool name, a
// path, a schema complaint) reaches an event or a log only as a short prefix marked as cut,
// and nesting is measured without recursion, so no input can grow an event past NATS's
// payload limit or overflow the stack of whatever walks it later.

/** The longest piece of input echoed into an event field or a log line. */
export const ECHO_CHARS = 200
/** The longest message an event carries (a schema complaint can name several fields). */
export const MESSAGE_CHARS = 1000
/** The deepest nesting a command may have; real commands are a handful of levels deep. */
export const MAX_DEPTH = 32

const CUT = "…[cut]"

/** `text` when short enough, else its first `max` characters and a visible cut mark. */
export const clip = (text: string, max: number = ECHO_CHARS): string =>
  text.length <= max ? text : `${text.slice(0, max)}${CUT}`

/** A value from the wire as a short quoted preview, without walking it (no recursion). */
export const preview = (value: unknown, max: number = ECHO_CHARS): string => {
  switch (typeof value) {
    case "string":
      return JSON.stringify(clip(value, max))
    case "number":
    case "boolean":
      return String(value)
    case "undefined":
      return "nothing"
    default:
      return value === null ? "null" : Array.isArray(value) ? "an array" : "an object"
  }
}

/**
 * The nesting depth of a JSON text, counted in one pass over its characters (strings
 * skipped), stopping as soon as it passes `limit`. Returns the depth reached.
 */
export const jsonDepth = (text: string, limit: number = MAX_DEPTH): number => {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash escapes the next character
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      depth++
      if (depth > max) {
        max = depth
        if (max > limit) return max
      }
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return max
}

/** A log line's view of a raw message: its size and a short printable prefix. */
export const rawSummary = (data: Uint8Array, max: number = ECHO_CHARS): string => {
  const head = Buffer.from(data.subarray(0, max * 4)).toString("utf8").replace(/[^\x20-\x7e]/g, "?")
  return `${data.byteLength} bytes: ${clip(head, max)}`
}
