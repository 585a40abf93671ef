// Splitting a plan's load across the chosen nodes and building each node's `start` command.
// Users (and integer rates) are split so nothing is lost to rounding: 10 on 3 nodes is 4,3,3
// (src/engine/LoadSplit.ts, the split the engine's workers use too).
// For `builtin` with flat load the share goes into `params` (users / rate override the
// scenario's); with stages each node gets its own scenario whose stages are scaled.
import { splitInt, splitRate } from "../engine/LoadSplit.ts"
import type { Load } from "../engine/Scenario.ts"
import type { StartCommand } from "../protocol/commands.ts"
import { type Plan, SCENARIO_FILE } from "./Plan.ts"

export { splitInt, splitRate }

/** Why the load cannot be split over `n` nodes, if it cannot. */
export const splitProblem = (plan: Plan, n: number): string | undefined => {
  if (plan.load.kind === "users" && plan.load.users < n) {
    return `${plan.load.users} users cannot be split over ${n} nodes (every node needs at least one)`
  }
  if (plan.load.kind === "rate" && plan.load.rate === 0 && plan.tool === "builtin") return "rate 0 has nothing to split"
  return undefined
}

const scaleLoad = (load: Load, i: number, n: number): Load => {
  if (load.model === "closed") {
    const stages = load.stages?.map((st) => ({ ...st, users: splitInt(st.users, n)[i]! }))
    return { ...load, ...(stages ? { stages } : {}), ...(load.users !== undefined ? { users: splitInt(load.users, n)[i]! } : {}) }
  }
  const stages = load.stages?.map((st) => ({ ...st, rate: splitRate(st.rate, n)[i]! }))
  return { ...load, ...(stages ? { stages } : {}), ...(load.rate !== undefined ? { rate: splitRate(load.rate, n)[i]! } : {}) }
}

/** The node's share of users or rate, as reported in the launch's summary. */
export interface Share {
  readonly nodeId: string
  readonly users?: number
  readonly rate?: number
}

/** One `start` command per node (without commandId: the controller adds it on send). */
export const startCommands = (
  plan: Plan,
  testId: string,
  nodeIds: ReadonlyArray<string>,
  barrier: boolean
): Array<{ readonly share: Share; readonly command: Omit<StartCommand, "commandId"> }> => {
  const n = nodeIds.length
  const users = plan.load.kind === "users" ? splitInt(plan.load.users, n) : undefined
  const rates = plan.load.kind === "rate" ? splitRate(plan.load.rate, n) : undefined
  return nodeIds.map((nodeId, i) => {
    const params: Record<string, unknown> = { ...plan.params }
    if (users) params.users = users[i]
    if (rates) params.rate = rates[i]
    let files = plan.files
    if (plan.scenario !== undefined) {
      const doc = plan.load.kind === "stages" ? { ...plan.scenario, load: scaleLoad(plan.load.load, i, n) } : plan.scenario
      files = [{ path: SCENARIO_FILE, content: JSON.stringify(doc) }, ...files]
    }
    const command: Omit<StartCommand, "commandId"> = {
      kind: "start",
      testId,
      tool: plan.tool,
      files,
      params,
      ...(plan.entry !== undefined ? { entry: plan.entry } : {}),
      ...(plan.runner !== undefined ? { runner: plan.runner } : {}),
      ...(plan.image !== undefined ? { image: plan.image } : {}),
      ...(plan.env !== undefined ? { env: plan.env } : {}),
      ...(plan.limits !== undefined ? { limits: plan.limits } : {}),
      ...(barrier ? { barrier: true } : {}),
      labels: { ...plan.labels, launch: plan.name }
    }
    const share: Share = { nodeId, ...(users ? { users: users[i]! } : {}), ...(rates ? { rate: rates[i]! } : {}) }
    return { share, command }
  })
}
