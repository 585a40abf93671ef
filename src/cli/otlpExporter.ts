// The OTLP/HTTP trace exporter (effect/observability OtlpTracer, JSON over fetch), loaded by
// tracing.ts only when tracing is on.
import { Layer } from "effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import { VERSION } from "../version.ts"

export const otlpTracer = (options: { readonly url: string; readonly serviceName: string; readonly attributes: Record<string, string> }) =>
  OtlpTracer.layer({
    url: options.url,
    resource: { serviceName: options.serviceName, serviceVersion: VERSION, attributes: options.attributes },
    exportInterval: "2 seconds",
    shutdownTimeout: "5 seconds"
  }).pipe(
    Layer.provide(OtlpSerialization.layerJson),
    Layer.provide(FetchHttpClient.layer)
  )
