// `--log-format json|pretty` (env GRID_LOG_FORMAT): how a long-running grid process writes its
// log. `pretty` is Effect's default logger, for a person at a terminal; `json` is one object a
// line on stdout, for a log shipper: level, message, timestamp, annotations, and the trace and
// span ids of the span the line was written in when tracing is on, so a log line joins its trace.
import { Config, Layer, Logger } from "effect"
import { Flag } from "effect/cli"

export type LogFormat = "pretty" | "json"

export const logFormatFlag = Flag.Literals("log-format", ["pretty", "json"] as const).pipe(
  Flag.withDescription("Log as pretty text for a terminal, or as one JSON object a line (env GRID_LOG_FORMAT, default pretty)"),
  Flag.withFallbackConfig(Config.Literals(["pretty", "json"] as const, "GRID_LOG_FORMAT")),
  Flag.withDefault("pretty" as const)
)

/** Effect's structured record, with the current span's ids when there is one. */
const jsonLine = Logger.make((options) => {
  const record: Record<string, unknown> = { ...Logger.formatStructured.log(options) }
  if (record.cause === undefined) delete record.cause
  const span = options.fiber.cache.span
  if (span !== undefined) {
    record.traceId = span.traceId
    record.spanId = span.spanId
  }
  return JSON.stringify(record)
})

/** The loggers of a format; the tracer logger stays so log lines are also events of their span. */
export const logFormatLayer = (format: LogFormat): Layer.Layer<never> =>
  format === "json" ? Logger.layer([Logger.withConsoleLog(jsonLine), Logger.tracerLogger]) : Layer.empty

/** A line said outside any logger (the reason a process stops), in the chosen format. */
export const plainLine = (format: LogFormat, level: string, message: string, nowMs: number): string =>
  format === "json" ? JSON.stringify({ message, level, timestamp: new Date(nowMs).toISOString() }) : message

