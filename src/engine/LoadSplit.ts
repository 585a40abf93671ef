// Exact load splitting, shared by the controller (a plan's load across nodes, Split.ts) and the
// engine's workers (one node's load across its cores, Workers.ts). Nothing is lost to rounding:
// 10 users on 3 parts are 4,3,3. A worker's share of a closed profile is taken at every instant
// from the whole profile's target (user j belongs to worker j mod N), so the workers' users
// add up to the single-process count during a ramp too, not only at its ends; open-model
// arrival k goes to worker k mod N, so the merged arrival instants are the scenario's own.
import type { Scenario } from "./Scenario.ts"

/** `total` split into `n` integers differing by at most one, larger first; the sum is `total`. */
export const splitInt = (total: number, n: number): Array<number> => {
  const base = Math.floor(total / n)
  const extra = total - base * n
  return Array.from({ length: n }, (_, i) => base + (i < extra ? 1 : 0))
}

/** A rate split: integer rates like users, others equally (the sum stays the rate). */
export const splitRate = (rate: number, n: number): Array<number> =>
  Number.isInteger(rate) ? splitInt(rate, n) : Array.from({ length: n }, () => rate / n)

/** Which of a node's workers this engine is: `index` of `count` (0 of 1 when alone). */
export interface WorkerShare {
  readonly index: number
  readonly count: number
}

export const alone: WorkerShare = { index: 0, count: 1 }

/** Worker `index`'s part of `total` (splitInt's element, without the array). */
export const shareOf = (total: number, share: WorkerShare): number => {
  if (share.count === 1) return total
  const base = Math.floor(total / share.count)
  return base + (share.index < total - base * share.count ? 1 : 0)
}

/** Whether open-model arrival `k` (0-based, in schedule order) is this worker's. */
export const ownsArrival = (k: number, share: WorkerShare): boolean => share.count === 1 || k % share.count === share.index

/**
 * The data-file rows a worker uses: partitioned round-robin (worker i takes rows i, i+N, ...)
 * when there are at least as many rows as workers, so no row is used twice before every row
 * was used once; shared whole when there are fewer (every worker cycles through all of them).
 */
export const rowsOf = <A>(rows: ReadonlyArray<A>, share: WorkerShare): ReadonlyArray<A> =>
  share.count === 1 || rows.length < share.count ? rows : rows.filter((_, r) => r % share.count === share.index)

/**
 * How many workers a scenario can keep busy, at most `wanted`: never more than the closed
 * model's peak users or the open model's connections (a worker with nothing to do only costs a
 * start). A scenario with `setup:` or `teardown:` runs them once, so it runs in one engine, as
 * does a browser scenario (its own engine, src/engine/browser/).
 */
export const usefulWorkers = (scenario: Scenario, wanted: number): number => {
  if (scenario.setup.length > 0 || scenario.teardown.length > 0 || scenario.browser !== undefined) return 1
  const load = scenario.load
  const cap = load.model === "open"
    ? load.maxConnections ?? 100
    : Math.max(1, load.users ?? 0, ...(load.stages ?? []).map((s) => s.users))
  return Math.max(1, Math.min(wanted, cap))
}

/** Runs shorter than this stay in one engine unless workers are asked for by name. */
export const SHORT_RUN_MS = 10_000

/**
 * The node's default when nothing names a number of workers: its cores, for a run of 10 s or
 * more. A shorter run stays in one engine: starting each worker (a process loading grid) would
 * take a noticeable part of it, and a smoke test gains nothing from a second core.
 */
export const defaultWorkers = (scenario: Scenario, cores: number): number => (scenario.durationMs >= SHORT_RUN_MS ? cores : 1)
