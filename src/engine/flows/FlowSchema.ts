// The parts of a scenario request that make a user flow: `capture:` (variables taken from a
// response) and `check:` (what a response must say to count as a success). Shapes only;
// JSONPath and regex syntax are checked at load time by the compilers (Captures.ts,
// Checks.ts), which report the request's path with every problem.
import { Schema } from "effect"

const StatusCode = Schema.Int.check(Schema.isGreaterThanOrEqualTo(100), Schema.isLessThanOrEqualTo(599))

/** One capture: exactly one source. */
export const CaptureSpec = Schema.Union([
  /** A JSONPath subset into the JSON body: `$.a.b[0].c`, `$["a-b"]`. */
  Schema.Struct({ json: Schema.NonEmptyString }),
  /** A response header's value (name case-insensitive). */
  Schema.Struct({ header: Schema.NonEmptyString }),
  /** A regular expression over the body: its first group (or the whole match without one). */
  Schema.Struct({ regex: Schema.NonEmptyString }),
  /** The value of a cookie this response sets (`Set-Cookie`). */
  Schema.Struct({ cookie: Schema.NonEmptyString })
])
export type CaptureSpec = typeof CaptureSpec.Type

export const CheckSpec = Schema.Struct({
  /** Expected status (or statuses); replaces the default "any 2xx or 3xx". */
  status: Schema.optional(Schema.Union([StatusCode, Schema.Array(StatusCode)])),
  /** JSONPath -> the value it must hold (compared as JSON). */
  json: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  /** Text the body must contain. */
  bodyContains: Schema.optional(Schema.NonEmptyString),
  /** Header name -> the value it must have (exactly). */
  header: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  /** Slowest acceptable response, ms. */
  maxLatency: Schema.optional(Schema.Finite.check(Schema.isGreaterThan(0)))
})
export type CheckSpec = typeof CheckSpec.Type

export const OnCaptureFail = Schema.Literals(["continue", "end"])
export type OnCaptureFail = typeof OnCaptureFail.Type
