// The HTML report: the dashboard page with a finished test's data embedded, one file that
// opens offline. Built from what each command already has at its end: `grid run`'s summary and
// points (and the load it sampled), a launch's or a past test's LaunchReport (nodes, outcome),
// a result file's summary (`grid report`).
import type { LaunchReport } from "../controller/Report.ts"
import type { RunSummary, WindowPoint } from "../report/Summary.ts"
import type { DashboardData, DashboardMeta, NodeRow } from "./Model.ts"
import { dashboardPage } from "./Page.ts"

/** A launch's node lines as the page's node table shows them (final: no rps, nothing late). */
export const nodeRows = (r: LaunchReport): Array<NodeRow> =>
  r.nodes.map((n) => ({
    nodeId: n.nodeId,
    status: n.status,
    share: n.users !== undefined ? `${n.users} users` : n.rate !== undefined ? `${+n.rate.toFixed(3)}/s` : "",
    count: n.count,
    errors: n.errors,
    rps: 0,
    windows: n.windows,
    late: 0,
    error: n.error
  }))

/** The problems a launch's report names (a failed node, a tolerated loss, repeated windows). */
export const launchProblems = (r: LaunchReport): Array<string> => [
  ...r.problems,
  ...(r.tolerated.length > 0 ? [`nodes lost and tolerated (--tolerate-node-loss): ${r.tolerated.join(", ")}; the load was uneven`] : []),
  ...(r.duplicates > 0 ? [`${r.duplicates} repeated windows dropped`] : [])
]

/** The final data of a test. */
export const reportData = (o: {
  readonly meta: DashboardMeta
  readonly summary: RunSummary
  readonly points: ReadonlyArray<WindowPoint>
  readonly at: number
  readonly load?: Readonly<Record<number, number>> | undefined
  readonly nodes?: ReadonlyArray<NodeRow> | undefined
  readonly problems?: ReadonlyArray<string> | undefined
}): DashboardData => ({
  meta: o.meta,
  points: o.points,
  load: o.load ?? {},
  state: { summary: o.summary, nodes: o.nodes ?? [], problems: o.problems ?? [], done: true, at: o.at }
})

/** A launch's (or a past test's) final data. */
export const launchData = (meta: DashboardMeta, r: LaunchReport, at: number): DashboardData =>
  reportData({ meta: { ...meta, testId: r.testId }, summary: r.summary, points: r.points, at, nodes: nodeRows(r), problems: launchProblems(r) })

/** The report file's text. */
export const reportHtml = (data: DashboardData): string => dashboardPage({ kind: "report", data })
