// What the dashboard page is given, live (over server-sent events) or embedded in the HTML
// report: the test's description (meta), its per-window points (the same WindowPoints the
// summary is read from, latencies from merged HdrHistograms), the load (users or arrivals) per
// window, and the state so far (the summary table with status codes, thresholds, nodes). Plain
// data written by us and read by the page (src/dashboard/page/); nothing here is read back.
import type { RunSummary, WindowPoint } from "../report/Summary.ts"

export type DashboardKind = "run" | "launch" | "results" | "report"

/** The test as the page's header describes it. */
export interface DashboardMeta {
  readonly kind: DashboardKind
  /** The scenario's or plan's name (or its file name). */
  readonly title: string
  readonly testId?: string | undefined
  /** The command line as typed (`grid run scenario.yaml --users 5 --dashboard`). */
  readonly commandLine: string
  /** The settings in force: flags given and what the scenario or plan resolved to. */
  readonly flags: Readonly<Record<string, string>>
  /** Planned duration, ms, when known. */
  readonly plannedMs?: number | undefined
  /** `users` (closed model), `arrivals` (open model, per second), or none known. */
  readonly load?: "users" | "arrivals" | undefined
  readonly target?: string | undefined
  /** Window length, ms (a point whose `durationMs` is shorter is partial). */
  readonly windowMs: number
}

/** One node of a launch, as its table row shows it. */
export interface NodeRow {
  readonly nodeId: string
  readonly status: string
  /** Its share of the load: `users 5`, `rate 10/s`. */
  readonly share: string
  readonly count: number
  readonly errors: number
  /** Requests per second over its last window. */
  readonly rps: number
  readonly windows: number
  /** Seconds behind the newest merged second (0: on time). */
  readonly late: number
  readonly error?: string | undefined
}

/** The figures so far (or final, once `done`). */
export interface LiveState {
  readonly summary: RunSummary
  readonly nodes: ReadonlyArray<NodeRow>
  readonly done: boolean
  /** Why the test ended early or failed, when it did. */
  readonly problems: ReadonlyArray<string>
  /** Epoch ms this state was taken. */
  readonly at: number
}

/** Everything the page draws: the embedded report, a live page's first message, and each
 * message after it (then `points` are those after the reader's last seq; the page merges them
 * by seq, so a point sent again replaces the one it had). */
export interface DashboardData {
  readonly meta: DashboardMeta
  readonly points: ReadonlyArray<WindowPoint>
  /** Users or arrivals per point, by seq (absent: unknown). */
  readonly load: Readonly<Record<number, number>>
  readonly state: LiveState
}
