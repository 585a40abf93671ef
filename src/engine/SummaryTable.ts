// `grid run`'s one-line progress shown every second (the end-of-run table is src/report/
// Table.ts, shared by every command). A pure function returning a string.
import { ms, pct } from "../report/Table.ts"
import type { WindowPoint } from "../report/Summary.ts"
import type { EngineStatus } from "./LoadModels.ts"

const clock = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`
}

/**
 * `0:07 / 0:30  users 50  last second: rps 812 p95 12.3 ms  so far: errors 3 (0.04%)`: rps and
 * p95 are of the last closed second, errors cumulative. The open model has no users: it shows
 * the arrivals of the last second and the arrivals in flight.
 */
export const progressLine = (
  elapsedMs: number,
  totalMs: number,
  status: EngineStatus,
  last: WindowPoint | undefined,
  totals: { readonly count: number; readonly errors: number },
  open?: { readonly arrivalsPerSec: number }
): string => {
  const parts = [
    `${clock(Math.min(elapsedMs, totalMs))} / ${clock(totalMs)}`,
    open === undefined ? `users ${status.users}` : `arrivals/s ${open.arrivalsPerSec}  in flight ${status.users}`,
    `last second: rps ${last === undefined ? 0 : Math.round(last.count / (last.durationMs / 1000))} p95 ${last === undefined ? "-" : ms(last.latencyMs.p95)} ms`,
    `so far: errors ${totals.errors} (${pct(totals.errors, totals.count)})`
  ]
  if (status.dropped > 0) parts.push(`dropped ${status.dropped}`)
  return parts.join("  ")
}
