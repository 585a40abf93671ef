// Choosing the nodes of a launch from the live heartbeats: either named nodes (`--nodes a,b`)
// or every idle node matching grid / channel / labels (`--count N` of them). Only idle nodes
// that advertise the plan's tool are taken; an unknown node, a tool nobody offers or too few
// idle nodes is a typed error naming what was found, raised before anything is sent.
import { Schema } from "effect"
import type { Heartbeat } from "../protocol/health.ts"

export class SelectionError extends Schema.TaggedError<SelectionError>()("SelectionError", {
  message: Schema.String,
  /** Set when busy nodes are all that is missing: the selection may succeed once they are idle. */
  busy: Schema.optional(Schema.Array(Schema.String))
}) {}

/** A live node: its last heartbeat and how old it is. */
export interface NodeInfo {
  readonly heartbeat: Heartbeat
  /** Milliseconds since the server stored the last heartbeat. */
  readonly ageMs: number
}

export interface Selection {
  readonly nodes?: ReadonlyArray<string> | undefined
  readonly grid?: string | undefined
  readonly count?: number | undefined
  readonly channel?: string | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
}

const describeNode = (h: Heartbeat) => `${h.nodeId} (${h.state}${h.accepting === false ? ", paused" : ""}${h.tests.length > 0 ? `: ${h.tests.join(",")}` : ""})`
/** Idle and taking tests: a node the live flag accept=false paused answers starts with `paused`. */
const available = (h: Heartbeat) => h.state === "idle" && h.accepting !== false

/** One entry per node, its freshest: listing the bucket while heartbeats are renewed can meet
 * a key twice (a launch over 1,000 simulated nodes listed 34 twice and sent them two starts). */
const onePerNode = (listed: ReadonlyArray<NodeInfo>): Array<NodeInfo> => {
  const byId = new Map<string, NodeInfo>()
  for (const n of listed) {
    const seen = byId.get(n.heartbeat.nodeId)
    if (seen === undefined || n.ageMs < seen.ageMs) byId.set(n.heartbeat.nodeId, n)
  }
  return [...byId.values()]
}

/** The chosen node ids, sorted by id (named nodes keep their order). */
export const selectNodes = (listed: ReadonlyArray<NodeInfo>, tool: string, sel: Selection): Array<string> | SelectionError => {
  const live = onePerNode(listed)
  const err = (message: string) => new SelectionError({ message })
  const byId = new Map(live.map((n) => [n.heartbeat.nodeId, n.heartbeat]))
  if (sel.nodes !== undefined && sel.nodes.length > 0) {
    if (sel.grid !== undefined || sel.channel !== undefined || sel.count !== undefined || Object.keys(sel.labels ?? {}).length > 0) {
      return err("--nodes names the nodes: it cannot be combined with --grid, --count, --channel or --label")
    }
    const dupes = sel.nodes.filter((n, i) => sel.nodes!.indexOf(n) !== i)
    if (dupes.length > 0) return err(`--nodes names ${dupes[0]} twice`)
    const unknown = sel.nodes.filter((n) => !byId.has(n))
    if (unknown.length > 0) {
      return err(`unknown node${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (live nodes: ${[...byId.keys()].sort().join(", ") || "none"})`)
    }
    const noTool = sel.nodes.filter((n) => !byId.get(n)!.tools.includes(tool))
    if (noTool.length > 0) return err(`tool ${tool} is not offered by ${noTool.map((n) => `${n} (offers ${byId.get(n)!.tools.join(", ")})`).join(", ")}`)
    const busy = sel.nodes.filter((n) => !available(byId.get(n)!))
    if (busy.length > 0) {
      const described = busy.map((n) => describeNode(byId.get(n)!))
      return new SelectionError({ message: `not idle: ${described.join(", ")}`, busy: described })
    }
    return [...sel.nodes]
  }
  const labels = Object.entries(sel.labels ?? {})
  const matching = live.map((n) => n.heartbeat).filter((h) =>
    (sel.grid === undefined || h.gridId === sel.grid) &&
    (sel.channel === undefined || h.channel === sel.channel) &&
    labels.every(([k, v]) => h.labels[k] === v)
  )
  const where = [
    sel.grid !== undefined ? `grid ${sel.grid}` : undefined,
    sel.channel !== undefined ? `channel ${sel.channel}` : undefined,
    ...labels.map(([k, v]) => `label ${k}=${v}`)
  ].filter((s) => s !== undefined).join(", ")
  const scope = where === "" ? "" : ` matching ${where}`
  if (matching.length === 0) return err(`no live node${scope} (${live.length} live node${live.length === 1 ? "" : "s"} in all)`)
  const withTool = matching.filter((h) => h.tools.includes(tool))
  if (withTool.length === 0) {
    const offered = [...new Set(matching.flatMap((h) => h.tools))].sort()
    return err(`no node${scope} offers tool ${tool} (offered: ${offered.join(", ") || "nothing"})`)
  }
  const idle = withTool.filter(available).sort((a, b) => a.nodeId.localeCompare(b.nodeId))
  const want = sel.count ?? idle.length
  if (want < 1) return err("--count must be at least 1")
  if (idle.length < want || idle.length === 0) {
    const others = withTool.filter((h) => !available(h)).map(describeNode)
    const message = `too few idle nodes${scope} with tool ${tool}: need ${want || 1}, ${idle.length} idle${others.length > 0 ? ` (not idle: ${others.join(", ")})` : ""}`
    // Only busy nodes (not draining ones) can become idle.
    const busy = withTool.filter((h) => h.state === "busy").map(describeNode)
    return new SelectionError({ message, busy: idle.length + busy.length >= Math.max(want, 1) && busy.length > 0 ? busy : undefined })
  }
  return idle.slice(0, want).map((h) => h.nodeId)
}
