// `--http-addr` and `--http-linger` of `grid run` and `grid launch`, and the one call that
// serves the run's metrics: the HTTP modules (runMetricsHttp.ts and effect's server) are
// imported only when the flag is given, so a run without it never loads them. No environment
// fallback: GRID_HTTP_ADDR is the daemon's, and a run on the same machine must not take its port.
import { Effect, type Option } from "effect"
import { Flag } from "effect/cli"
import type { RunMetrics } from "../report/RunMetrics.ts"
import { durationFlag } from "./flags.ts"

export const httpAddrFlag = Flag.String("http-addr").pipe(
  Flag.withDescription("host:port where the run's live metrics (/metrics, Prometheus) and /healthz are served, e.g. 127.0.0.1:9465 (default: off)"),
  Flag.optional
)

export const httpLingerFlag = durationFlag(
  "http-linger",
  "With --http-addr: after the run, keep serving until /metrics has been read once more (the final figures), at most this long (default 0: exit at once)"
).pipe(Flag.optional)

/** Serves `metrics` on `addr` in the caller's scope. */
export const serveMetrics = (addr: Option.Option<string>, metrics: RunMetrics) =>
  Effect.flatMap(
    Effect.promise(() => import("./runMetricsHttp.ts")),
    (m) => m.serveRunMetrics(addr._tag === "Some" ? addr.value : "", metrics)
  )
