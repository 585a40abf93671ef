// The built-in engine's scenario file: what `grid run` and `grid engine` read (YAML or
// JSON). The shape is checked with effect Schema (unknown keys rejected so a typo such as
// `rampupSeconds` is not silently ignored); cross-field rules that a struct schema cannot
// express live in ScenarioLoader.ts, which reports every problem with its path.
import { Schema } from "effect"
import { CaptureSpec, CheckSpec, OnCaptureFail } from "./flows/FlowSchema.ts"
import { BrowserSpec } from "./browser/BrowserScenario.ts"
import { parseThreshold } from "./Thresholds.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))

const httpUrl = (s: string): boolean => {
  try {
    const u = new URL(s)
    return u.protocol === "http:" || u.protocol === "https:"
  } catch {
    return false
  }
}
const Target = Schema.NonEmptyString.check(
  Schema.makeFilter((s: string) => (httpUrl(s) ? undefined : `"${s}" is not an http(s) URL`))
)
const RequestPath = Schema.NonEmptyString.check(
  Schema.makeFilter((s: string) =>
    !s.startsWith("/") && !/^https?:\/\//i.test(s)
      ? `"${s}" must start with / or be an absolute http(s) URL`
      : /\s/.test(s.replace(/\$\{[^}]*\}/g, ""))
      ? "must not contain whitespace"
      : undefined
  )
)
const HeaderValue = Schema.String.check(Schema.makeFilter((s: string) => (/[\r\n]/.test(s) ? "must not contain CR or LF" : undefined)))
const ThresholdText = Schema.String.check(Schema.makeFilter((s: string) => {
  const t = parseThreshold(s)
  return typeof t === "string" ? t : undefined
}))

export const HttpMethod = Schema.Literals(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
export type HttpMethod = typeof HttpMethod.Type

export const RequestSpec = Schema.Struct({
  /** The label samples carry (summary rows, thresholds, JTL `label`). */
  name: Schema.NonEmptyString,
  method: Schema.optional(HttpMethod),
  /** A path below `target` ("/api/items?id=${id}") or an absolute http(s) URL. */
  path: RequestPath,
  headers: Schema.optional(Schema.Record(Schema.String, HeaderValue)),
  /** A string is sent as is; any other JSON value is sent as JSON. */
  body: Schema.optional(Schema.Unknown),
  /** Expected status (or statuses); default: any 2xx or 3xx. */
  expect: Schema.optional(Schema.Union([PositiveInt, Schema.Array(PositiveInt)])),
  /** Pause after this request, per virtual user. */
  thinkTimeMs: Schema.optional(NonNegative),
  /** Variable name -> where in the response to take it from (flows/FlowSchema.ts). */
  capture: Schema.optional(Schema.Record(Schema.String, CaptureSpec)),
  /** What the response must say; a failed check makes the sample an error naming it. */
  check: Schema.optional(CheckSpec),
  /** A capture that finds nothing: `end` (default) ends the user's iteration, `continue` goes on. */
  onCaptureFail: Schema.optional(OnCaptureFail)
})
export type RequestSpec = typeof RequestSpec.Type

export const FlowSpec = Schema.Struct({
  /** Labels are `flow/request` when the scenario has more than one flow. */
  name: Schema.NonEmptyString,
  /** Relative share of iterations (closed model) or arrivals (open model). Default 1. */
  weight: Schema.optional(Schema.Finite.check(Schema.isGreaterThan(0))),
  requests: Schema.Array(RequestSpec)
})
export type FlowSpec = typeof FlowSpec.Type

export const ClosedStage = Schema.Struct({ durationSeconds: Positive, users: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)) })
export const OpenStage = Schema.Struct({ durationSeconds: Positive, rate: NonNegative })

export const ClosedLoad = Schema.Struct({
  model: Schema.Literal("closed"),
  users: Schema.optional(PositiveInt),
  rampUpSeconds: Schema.optional(NonNegative),
  /** Whole run, ramp-up included. */
  durationSeconds: Schema.optional(Positive),
  /** Target users over time, linearly interpolated from the previous stage's target. */
  stages: Schema.optional(Schema.Array(ClosedStage)),
  /** Engine processes sharing this load on the node, each on its own core (default: the node's). */
  workers: Schema.optional(PositiveInt)
})
export type ClosedLoad = typeof ClosedLoad.Type

export const OpenLoad = Schema.Struct({
  model: Schema.Literal("open"),
  /** Arrivals per second (each arrival runs the request list once). */
  rate: Schema.optional(NonNegative),
  durationSeconds: Schema.optional(Positive),
  stages: Schema.optional(Schema.Array(OpenStage)),
  /** Connections available to arrivals; an arrival finding none free is dropped. Default 100. */
  maxConnections: Schema.optional(PositiveInt),
  /** Engine processes sharing this load on the node, each on its own core (default: the node's). */
  workers: Schema.optional(PositiveInt)
})
export type OpenLoad = typeof OpenLoad.Type

export const Load = Schema.Union([ClosedLoad, OpenLoad])
export type Load = typeof Load.Type

export const ScenarioFile = Schema.Struct({
  /** What the test is called: the title of its dashboard and HTML report (default: the file name). */
  name: Schema.optional(Schema.NonEmptyString),
  /** Base URL, e.g. http://127.0.0.1:8080 */
  target: Target,
  /** One flow's requests (the shorthand); give either this or `flows`. */
  requests: Schema.optional(Schema.Array(RequestSpec)),
  /** Weighted flows: each iteration of a user runs one, drawn by weight. */
  flows: Schema.optional(Schema.Array(FlowSpec)),
  /** Real Chromium users stepping through pages (src/engine/browser/), in place of `requests`. */
  browser: Schema.optional(BrowserSpec),
  /** Requests run once before the load; their captures are visible to every user. */
  setup: Schema.optional(Schema.Array(RequestSpec)),
  /** Requests run once after the load. */
  teardown: Schema.optional(Schema.Array(RequestSpec)),
  /** A cookie jar per virtual user (default true). */
  cookies: Schema.optional(Schema.Boolean),
  load: Load,
  /** CSV with a header row; `${column}` in path, header values and body is replaced per iteration. */
  data: Schema.optional(Schema.Struct({ file: Schema.NonEmptyString })),
  thresholds: Schema.optional(Schema.Array(ThresholdText)),
  /** Per request; a request still unanswered after it fails with `timeout`. Default 30. */
  timeoutSeconds: Schema.optional(Positive),
  /** `lean` (default: net/tls sockets, pre-serialised requests) or `undici` (Pool.request). */
  client: Schema.optional(Schema.Literals(["lean", "undici"]))
})
export type ScenarioFile = typeof ScenarioFile.Type

/** A scenario after loading: validated, data file read, thresholds parsed. */
export interface Scenario {
  readonly file: ScenarioFile
  /** Where the scenario came from (for messages). */
  readonly source: string
  readonly target: URL
  /** Every request of every flow, `name` set to its label (`flow/request` with several flows). */
  readonly requests: ReadonlyArray<RequestSpec>
  /** The flows (`requests:` alone makes one flow), names as labels like `requests`. */
  readonly flows: ReadonlyArray<{ readonly name: string; readonly weight: number; readonly requests: ReadonlyArray<RequestSpec> }>
  /** Run once before / after the load, labelled `[setup] name` / `[teardown] name`. */
  readonly setup: ReadonlyArray<RequestSpec>
  readonly teardown: ReadonlyArray<RequestSpec>
  readonly cookies: boolean
  /** Real Chromium users instead of requests (`requests` and `flows` are then empty). */
  readonly browser?: BrowserSpec | undefined
  readonly load: Load
  /** Rows of the data file as column -> value, empty without one. */
  readonly data: ReadonlyArray<Readonly<Record<string, string>>>
  readonly thresholds: ReadonlyArray<import("./Thresholds.ts").Threshold>
  readonly timeoutMs: number
  readonly client: "lean" | "undici"
  /** Total planned run time in ms (from `durationSeconds` or the sum of `stages`). */
  readonly durationMs: number
}

/** Overrides from the command line or the protocol's `params`. */
export interface ScenarioOverrides {
  readonly target?: string | undefined
  readonly users?: number | undefined
  readonly rampUpSeconds?: number | undefined
  readonly durationSeconds?: number | undefined
  readonly rate?: number | undefined
}
