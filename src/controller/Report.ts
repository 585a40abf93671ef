// The report of a launch (live, at its end) or of a past test (rebuilt from GRID_RESULTS and
// GRID_EVENTS): the merged RunSummary with thresholds, the per-second points, and one line
// per node. The text and JSON forms are src/report's, the same for every command; the HTML
// report is the dashboard page with the data embedded (src/dashboard/ReportData.ts).
import { evaluateThresholds, type Threshold } from "../engine/Thresholds.ts"
import type { ReadEvent } from "../protocol/events.ts"
import type { ResultWindow } from "../protocol/results.ts"
import {
  NodeReport as NodeReportSchema,
  NodeStatus as NodeStatusSchema,
  reportDocument,
  type ReportDocument,
  reportDocumentJson
} from "../report/Document.ts"
import type { RunSummary, WindowPoint } from "../report/Summary.ts"
import { summaryTable, thresholdLines } from "../report/Table.ts"
import { WindowMerger } from "./Merger.ts"

/** A node's status in a launch, and its line of the report (the document's `nodes`). */
export type NodeStatus = typeof NodeStatusSchema.Type
export type NodeReport = typeof NodeReportSchema.Type
export const endedStatuses: ReadonlySet<NodeStatus> = new Set(["finished", "failed", "stopped", "rejected", "lost"])

/** `ok`, `thresholds` (one breached), `failed` (a node lost, rejected, ...), `interrupted`. */
export type Outcome = NonNullable<ReportDocument["outcome"]>

export interface LaunchReport {
  readonly testId: string
  readonly outcome: Outcome
  /** Why the launch failed, or what was tolerated. */
  readonly problems: ReadonlyArray<string>
  /** Nodes lost while `--tolerate-node-loss` kept the launch going. */
  readonly tolerated: ReadonlyArray<string>
  readonly nodes: ReadonlyArray<NodeReport>
  readonly summary: RunSummary
  readonly points: ReadonlyArray<WindowPoint>
  /** Repeated (nodeId, seq) windows dropped. */
  readonly duplicates: number
}

export interface FinishInput {
  readonly testId: string
  readonly merger: WindowMerger
  readonly nodes: ReadonlyArray<Omit<NodeReport, "windows" | "count" | "errors">>
  readonly thresholds: ReadonlyArray<Threshold>
  readonly interrupted: boolean
  readonly problems: ReadonlyArray<string>
  readonly tolerated: ReadonlyArray<string>
  /** Request names in the scenario's order: the summary's rows follow it. */
  readonly order?: ReadonlyArray<string> | undefined
}

/** Flushes the merger and builds the report. */
export const finishReport = (i: FinishInput): LaunchReport => {
  i.merger.flush()
  const base = i.merger.summary(i.interrupted, i.order)
  const summary: RunSummary = { ...base, thresholds: evaluateThresholds(i.thresholds, base) }
  const nodes = i.nodes.map((n) => {
    const r = i.merger.nodes.get(n.nodeId)
    return { ...n, windows: r?.windows ?? 0, count: r?.count ?? 0, errors: r?.errors ?? 0 }
  })
  const outcome: Outcome = i.problems.length > 0
    ? "failed"
    : i.interrupted
    ? "interrupted"
    : summary.thresholds.some((t) => !t.ok)
    ? "thresholds"
    : "ok"
  return { testId: i.testId, outcome, problems: i.problems, tolerated: i.tolerated, nodes, summary, points: i.merger.series, duplicates: i.merger.duplicates }
}

const statusOfKind: Record<string, NodeStatus> = {
  accepted: "accepted",
  ready: "ready",
  started: "running",
  finished: "finished",
  failed: "failed",
  stopped: "stopped",
  rejected: "rejected"
}

/** A past test's report from everything its streams hold. */
export const buildReport = (input: {
  readonly testId: string
  readonly events: ReadonlyArray<ReadEvent>
  readonly windows: ReadonlyArray<ResultWindow>
  readonly thresholds: ReadonlyArray<Threshold>
}): LaunchReport => {
  const merger = new WindowMerger([])
  const nodes = new Map<string, { nodeId: string; status: NodeStatus; error?: string; summary?: unknown }>()
  for (const e of input.events) {
    const status = statusOfKind[e.kind]
    if (status === undefined) continue
    const prev = nodes.get(e.nodeId)
    if (prev !== undefined && endedStatuses.has(prev.status)) continue
    const error = e.kind === "failed" ? `${e.error.code}: ${e.error.message}` : e.kind === "rejected" ? `${e.code}: ${e.message}` : undefined
    const summary = e.kind === "finished" || e.kind === "failed" || e.kind === "stopped" ? e.summary : undefined
    nodes.set(e.nodeId, { nodeId: e.nodeId, status, ...(error ? { error } : {}), ...(summary !== undefined ? { summary } : {}) })
  }
  for (const w of input.windows) merger.add(w, 0)
  for (const id of merger.nodes.keys()) if (!nodes.has(id)) nodes.set(id, { nodeId: id, status: "running" })
  const list = [...nodes.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId))
  const problems = list.filter((n) => n.status === "failed" || n.status === "rejected").map((n) => `node ${n.nodeId} ${n.status}: ${n.error}`)
  return finishReport({
    testId: input.testId,
    merger,
    nodes: list,
    thresholds: input.thresholds,
    interrupted: list.some((n) => n.status === "stopped"),
    problems,
    tolerated: []
  })
}

const nodeLine = (n: NodeReport): string => {
  const share = n.users !== undefined ? ` users ${n.users}` : n.rate !== undefined ? ` rate ${+n.rate.toFixed(3)}/s` : ""
  return `  ${n.nodeId.padEnd(16)} ${n.status.padEnd(9)}${share}  ${n.count} requests, ${n.errors} errors, ${n.windows} windows${n.error ? `  (${n.error})` : ""}`
}

/** The end-of-launch text: nodes, merged table, thresholds, verdict. */
export const reportText = (r: LaunchReport): string => {
  const lines = [`test ${r.testId}: ${r.nodes.length} node${r.nodes.length === 1 ? "" : "s"}`, ...r.nodes.map(nodeLine), "", summaryTable(r.summary)]
  if (r.summary.thresholds.length > 0) lines.push("", "thresholds:", thresholdLines(r.summary))
  if (r.tolerated.length > 0) lines.push("", `nodes lost and tolerated (--tolerate-node-loss): ${r.tolerated.join(", ")}; the load was uneven`)
  if (r.duplicates > 0) lines.push(`${r.duplicates} repeated windows dropped`)
  if (r.problems.length > 0) lines.push("", "launch failed:", ...r.problems.map((p) => `  - ${p}`))
  return lines.join("\n")
}

/** `grid launch --out`, `grid results --json`: the one report document (src/report/Document.ts). */
export const reportJson = (r: LaunchReport, command: "launch" | "results"): string =>
  reportDocumentJson(
    reportDocument(command, r.summary, r.points, {
      testId: r.testId,
      outcome: r.outcome,
      problems: r.problems,
      tolerated: r.tolerated,
      nodes: r.nodes,
      duplicates: r.duplicates
    })
  )
