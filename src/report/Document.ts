// The one JSON document `grid run --out`, `grid launch --out`, `grid results --json` and
// `grid report --json` write: the same top level everywhere (the summary's `total` and
// `labels`, `thresholds`, the per-window points as `windows`), plus the fields only one kind of
// command has (a launch's nodes and outcome, a file's format and bad lines, a run's terminal
// event). docs/report.schema.json is generated from this Schema (jsonSchemaText) and a test
// checks both that the file is current and that every command's output decodes.
import { Schema } from "effect"
import { LabelSummary, RunSummary, WindowPoint } from "./Summary.ts"

export const NodeStatus = Schema.Literals(["sent", "accepted", "ready", "running", "finished", "failed", "stopped", "rejected", "lost"])

/** One node of a launch: its status, share of the load, and what its windows said. */
export const NodeReport = Schema.Struct({
  nodeId: Schema.String,
  status: NodeStatus,
  users: Schema.optional(Schema.Finite),
  rate: Schema.optional(Schema.Finite),
  /** Why the node failed, was rejected or lost. */
  error: Schema.optional(Schema.String),
  /** The node's own `summary`, from its terminal event (docs/protocol.md). */
  summary: Schema.optional(Schema.Unknown),
  windows: Schema.Finite,
  count: Schema.Finite,
  errors: Schema.Finite
})

/** A threshold's verdict; `actual` is null when nothing was measured (no samples). */
export const ThresholdJson = Schema.Struct({
  threshold: Schema.String,
  ok: Schema.Boolean,
  actual: Schema.NullOr(Schema.Finite)
})

const BadLine = Schema.Struct({ line: Schema.Finite, text: Schema.String, reason: Schema.optional(Schema.String) })

export const ReportDocument = Schema.Struct({
  /** Which command wrote it. */
  command: Schema.Literals(["run", "launch", "results", "report"]),
  ...RunSummary.fields,
  total: LabelSummary,
  thresholds: Schema.Array(ThresholdJson),
  /** The run's windows (seconds, or `--window-ms` for a report) as points of the time series. */
  windows: Schema.Array(WindowPoint),
  // launch, results
  testId: Schema.optional(Schema.String),
  /** `ok`, `thresholds` (one breached), `failed` (a node lost, rejected ...), `interrupted`. */
  outcome: Schema.optional(Schema.Literals(["ok", "thresholds", "failed", "interrupted"])),
  problems: Schema.optional(Schema.Array(Schema.String)),
  /** Nodes lost while `--tolerate-node-loss` kept the launch going. */
  tolerated: Schema.optional(Schema.Array(Schema.String)),
  nodes: Schema.optional(Schema.Array(NodeReport)),
  /** Repeated (nodeId, seq) windows dropped. */
  duplicates: Schema.optional(Schema.Finite),
  // run
  /** `grid run`: the runner's own terminal event, as a daemon would have published it. */
  node: Schema.optional(Schema.Unknown),
  // report
  file: Schema.optional(Schema.String),
  format: Schema.optional(Schema.String),
  /** How the format was told from the content, when it was not given. */
  detected: Schema.optional(Schema.String),
  windowMs: Schema.optional(Schema.Finite),
  badLines: Schema.optional(Schema.Struct({ count: Schema.Finite, first: Schema.Array(BadLine) }))
})
export type ReportDocument = typeof ReportDocument.Type

type Extra = Omit<ReportDocument, keyof RunSummary | "command" | "windows">

/** The document of a summary: `command`, the summary, `windows`, then the command's own fields. */
export const reportDocument = (
  command: ReportDocument["command"],
  summary: RunSummary,
  windows: ReadonlyArray<WindowPoint>,
  extra: Extra = {}
): ReportDocument => ({
  command,
  ...summary,
  thresholds: summary.thresholds.map((t) => ({ ...t, actual: Number.isFinite(t.actual) ? t.actual : null })),
  windows,
  ...extra
})

/** The document as written to a file or stdout. */
export const reportDocumentJson = (d: ReportDocument): string => `${JSON.stringify(d, null, 2)}\n`

export const decodeReportDocument = Schema.decodeUnknownResult(Schema.fromJsonString(ReportDocument))

/** The text of docs/report.schema.json. */
export const jsonSchemaText = (): string => {
  const doc = Schema.toJsonSchemaDocument(ReportDocument)
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://github.com/grid-load-agent/grid/docs/report.schema.json",
    title: "grid report document",
    description: "What grid run --out, grid launch --out, grid results --json and grid report --json write (src/report/Document.ts).",
    ...doc.schema,
    ...(Object.keys(doc.definitions).length > 0 ? { $defs: doc.definitions } : {})
  }
  return `${JSON.stringify(schema, null, 2)}\n`
}
