// W3C trace context (https://www.w3.org/TR/trace-context/) carried in a start command's
// `traceparent`, so the controller's launch span is the parent of every node's spans of the
// test: one trace shows a launch across the fleet. A value that is not a valid traceparent is
// ignored, as the W3C says: a trace is lost, never a test.
import { Option, Tracer } from "effect"

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export const formatTraceparent = (span: { readonly traceId: string; readonly spanId: string; readonly sampled: boolean }): string =>
  `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** The remote parent span a traceparent names; none for a malformed or all-zero one. */
export const parseTraceparent = (value: string | undefined): Option.Option<Tracer.ExternalSpan> => {
  const m = value === undefined ? null : TRACEPARENT.exec(value.trim())
  if (m === null || m[1] === "ff" || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return Option.none()
  return Option.some(Tracer.externalSpan({ traceId: m[2]!, spanId: m[3]!, sampled: (parseInt(m[4]!, 16) & 1) === 1 }))
}
