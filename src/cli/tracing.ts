// `--otlp-endpoint URL` (env OTEL_EXPORTER_OTLP_ENDPOINT; service name OTEL_SERVICE_NAME):
// where a grid process exports its spans over OTLP/HTTP, `URL/v1/traces` as the OpenTelemetry
// variables mean it. Off by default; the exporter's modules (otlpExporter.ts) are loaded by a
// dynamic import only when it is on, so a process without tracing never pays their start-up.
import { Config, Effect, Layer, Option } from "effect"
import { Flag } from "effect/cli"
import type { Flusher } from "effect/observability/OtlpExporter"

export const otlpEndpointFlag = Flag.String("otlp-endpoint").pipe(
  Flag.withDescription("OTLP/HTTP collector to export traces to, e.g. http://127.0.0.1:4318 (env OTEL_EXPORTER_OTLP_ENDPOINT; service name OTEL_SERVICE_NAME; default: off)"),
  Flag.withFallbackConfig(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT")),
  Flag.optional
)

export interface TracingOptions {
  /** The service name unless OTEL_SERVICE_NAME says otherwise. */
  readonly serviceName: string
  readonly attributes?: Record<string, string>
}

/** The traces' URL of an OTLP base endpoint. */
export const tracesUrl = (endpoint: string): string => `${endpoint.replace(/\/+$/, "")}/v1/traces`

/** The OTLP tracer when an endpoint is given, nothing otherwise. Spans still buffered are
 * exported when the layer is released (the process stopping). */
export const tracingLayer = (endpoint: Option.Option<string>, options: TracingOptions): Layer.Layer<Flusher> =>
  Option.isNone(endpoint) ? (Layer.empty as Layer.Layer<Flusher>) : Layer.unwrap(Effect.gen(function*() {
    const serviceName = yield* Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault(options.serviceName))
    const m = yield* Effect.promise(() => import("./otlpExporter.ts"))
    return m.otlpTracer({ url: tracesUrl(endpoint.value), serviceName, attributes: options.attributes ?? {} })
  }).pipe(Effect.orDie))
