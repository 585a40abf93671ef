// `grid nodes [--grid G] [--json]`: the live nodes from the `grid_nodes` bucket, one line each:
// id, state, running tests, tools, runners, cpu and memory, version, channel, the live flags'
// revision it applied (and `paused` while the flag accept is false), labels, and the
// age of the last heartbeat. Exit codes: 0 listed (even none), 1 NATS unreachable.
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { Controller } from "../controller/Controller.ts"
import type { NodeInfo } from "../controller/Selection.ts"
import { controllerLayer } from "./launch.ts"
import { natsFlags } from "./flags.ts"

export const nodesTable = (nodes: ReadonlyArray<NodeInfo>): string => {
  if (nodes.length === 0) return "no live nodes"
  const header = ["node", "state", "tests", "tools", "runners", "cpu", "memory", "version", "channel", "flags", "labels", "age"]
  const rows = nodes.map(({ heartbeat: h, ageMs }) => [
    h.nodeId,
    h.state,
    h.tests.length === 0 ? "-" : h.tests.join(","),
    h.tools.join(","),
    h.runners.join(","),
    `${h.cpu.cores}c load ${h.cpu.load1.toFixed(2)} ${h.cpu.usagePct.toFixed(0)}%`,
    `${h.memory.freeMb}/${h.memory.totalMb} MB free`,
    h.version,
    h.channel,
    // The grid_flags revision the node applied, and whether the flag accept paused it.
    `${h.flagsRevision !== undefined ? `rev ${h.flagsRevision}` : "-"}${h.accepting === false ? " paused" : ""}`,
    Object.entries(h.labels).map(([k, v]) => `${k}=${v}`).join(",") || "-",
    `${(ageMs / 1000).toFixed(1)} s`
  ])
  const widths = header.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

export const nodesCommand = Command.make(
  "nodes",
  {
    ...natsFlags,
    grid: Flag.String("grid").pipe(Flag.withDescription("Only nodes of this grid"), Flag.optional),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the heartbeats as JSON (with ageMs)"), Flag.withDefault(false))
  },
  Effect.fn(function*(f) {
    const result = yield* Effect.result(
      Effect.flatMap(Controller, (c) => c.nodes).pipe(Effect.provide(controllerLayer(f)))
    )
    if (result._tag === "Failure") {
      yield* Console.error(`grid nodes: ${(result.failure as { message?: string }).message ?? String(result.failure)}`)
      process.exitCode = 1
      return
    }
    const nodes = result.success.filter((n) => Option.isNone(f.grid) || n.heartbeat.gridId === f.grid.value)
    yield* Console.log(f.json ? JSON.stringify(nodes.map((n) => ({ ...n.heartbeat, ageMs: n.ageMs })), null, 2) : nodesTable(nodes))
  })
).pipe(
  Command.withDescription("List the live grid nodes"),
  Command.withExamples([
    { command: "grid nodes", description: "The live nodes, one line each" },
    { command: "grid nodes --grid eu --json", description: "The heartbeats of grid eu as JSON" }
  ])
)
