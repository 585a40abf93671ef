// The end-of-run summary the engine's front ends work from (table, `--out` JSON,
// thresholds, the daemon's `finished` event). Per label plus the `*` total; latency
// fields match the protocol's `summary.latencyMs`. Produced by LocalAggregator.ts today
// and meant to come from src/ingest + src/protocol/results.ts once those land.

export interface LatencyMs {
  readonly min: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p95: number
  readonly p99: number
  readonly max: number
}

export interface LabelSummary {
  readonly label: string
  readonly count: number
  readonly errors: number
  readonly bytesIn: number
  readonly bytesOut: number
  readonly rps: number
  readonly latencyMs: LatencyMs
  readonly status: Readonly<Record<string, number>>
}

export interface ThresholdResult {
  readonly threshold: string
  readonly ok: boolean
  /** The measured value, in the threshold's unit (ms, %, count, req/s). */
  readonly actual: number
}

export interface RunSummary {
  /** Epoch ms of the first window's start. */
  readonly startedAt: number
  readonly durationMs: number
  /** All samples (label `*`). */
  readonly total: LabelSummary
  readonly labels: ReadonlyArray<LabelSummary>
  /** Open model: arrivals that found no free connection (also counted as errors). */
  readonly dropped: number
  /** True when the run was stopped early (Ctrl-C, SIGTERM). */
  readonly interrupted: boolean
  readonly thresholds: ReadonlyArray<ThresholdResult>
  /** CPU the generating process used during the run (user + system), ms: a generator near
   * 100% of a core is itself the bottleneck and its latencies are suspect. */
  readonly generatorCpuMs?: number | undefined
}

/** Labels in the scenario's request order (the order a reader wrote them in); labels the
 * scenario does not name (or all, without a scenario) follow by name. */
export const inRequestOrder = <A extends { readonly label: string }>(labels: Iterable<A>, order: ReadonlyArray<string> = []): Array<A> => {
  const rank = new Map(order.map((name, i) => [name, i]))
  const r = (a: A) => rank.get(a.label) ?? Number.MAX_SAFE_INTEGER
  return [...labels].sort((a, b) => r(a) - r(b) || a.label.localeCompare(b.label))
}

export const emptyLatency: LatencyMs = { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 }
