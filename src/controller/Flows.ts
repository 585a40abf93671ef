// The controller's flows over its primitives (NodeBus.ts), whichever bus carries them: launch
// (Launch.ts), stop, the emergency stop of everything (EmergencyStop.ts), report, and history.
// Each is a named span (`controller.<operation>`) so a trace shows which flow a slow or failing
// call belongs to.
import { type Duration, Effect, type Scope, Stream } from "effect"
import type { Threshold } from "../engine/Thresholds.ts"
import { terminalKinds } from "../protocol/events.ts"
import { type EmergencyFilter, type EmergencyOutcome, emergencyStop } from "./EmergencyStop.ts"
import { GridLaunchError, type Launch, type LaunchOptions, startLaunch } from "./Launch.ts"
import { pinnedSelection } from "./LaunchChannel.ts"
import { ControllerError, type Primitives } from "./NodeBus.ts"
import type { Plan } from "./Plan.ts"
import { buildReport, type LaunchReport } from "./Report.ts"
import type { Selection, SelectionError } from "./Selection.ts"

export interface StopOutcome {
  readonly nodeId: string
  /** The node's terminal event kind, or `timeout` when none came within the bound. */
  readonly result: string
}

export interface StopOptions {
  readonly reason?: string
  readonly graceSeconds?: number
  readonly timeout?: Duration.Input
}

export interface Flows {
  /** Starts a plan on the selected nodes; the handle's scope stops the nodes if still running. */
  readonly launch: (plan: Plan, selection: Selection, options?: LaunchOptions) => Effect.Effect<Launch, GridLaunchError | SelectionError | ControllerError, Scope.Scope>
  /** Stops a test on every node still running it and waits (bounded) for their terminal events. */
  readonly stop: (testId: string, options?: StopOptions) => Effect.Effect<ReadonlyArray<StopOutcome>, ControllerError>
  /** Emergency stop (`grid stop --all`): a durable order every matching node obeys, then a
   * bounded wait for the terminal events of the tests the matching nodes ran (EmergencyStop.ts). */
  readonly stopAll: (filter: EmergencyFilter, options?: { readonly reason?: string; readonly timeout?: Duration.Input }) => Effect.Effect<EmergencyOutcome, ControllerError>
  /** The merged report of a test, rebuilt from its stored events and results. */
  readonly report: (testId: string, thresholds?: ReadonlyArray<Threshold>) => Effect.Effect<LaunchReport, ControllerError>
  /** Everything stored for a test, read to the end. */
  readonly history: Primitives["history"]
}

const isTerminal = (kind: string) => (terminalKinds as ReadonlyArray<string>).includes(kind)

export const flows = (p: Primitives): Flows => {
  const history = Effect.fn("controller.history")(function*(testId: string) {
    return yield* p.history(testId)
  })

  const launch = Effect.fn("controller.launch")(function*(plan: Plan, selection: Selection, options?: LaunchOptions) {
    const pinned = yield* pinnedSelection(p, selection, options?.onUpdate)
    return yield* startLaunch(p, plan, pinned, options ?? {})
  })

  const stop = Effect.fn("controller.stop")(function*(testId: string, options: StopOptions = {}) {
    const [past, live] = yield* Effect.all([history(testId), p.nodes], { concurrency: 2 })
    const ended = new Set(past.events.filter((e) => isTerminal(e.kind)).map((e) => e.nodeId))
    const running = new Set(past.events.filter((e) => e.kind === "accepted" && !ended.has(e.nodeId)).map((e) => e.nodeId))
    for (const n of live) if (n.heartbeat.tests.includes(testId)) running.add(n.heartbeat.nodeId)
    if (running.size === 0) {
      return yield* new ControllerError({ message: `test ${testId} is not running on any node` })
    }
    const targets = [...running].sort()
    const outcomes = new Map<string, string>()
    const waiting = p.events(testId).pipe(
      Stream.filter((e) => running.has(e.nodeId) && isTerminal(e.kind)),
      Stream.runForEachWhile((e) =>
        Effect.sync(() => {
          outcomes.set(e.nodeId, e.kind)
          return outcomes.size < running.size
        })
      )
    )
    yield* Effect.forEach(targets, (n) =>
      p.send(n, { kind: "stop", testId, reason: options.reason ?? "grid stop", ...(options.graceSeconds !== undefined ? { graceSeconds: options.graceSeconds } : {}) }), { concurrency: "unbounded" })
    yield* waiting.pipe(Effect.timeoutOption(options.timeout ?? "30 seconds"))
    return targets.map((nodeId) => ({ nodeId, result: outcomes.get(nodeId) ?? "timeout" }))
  })

  const report = Effect.fn("controller.report")(function*(testId: string, thresholds: ReadonlyArray<Threshold> = []) {
    const { events, windows } = yield* history(testId)
    if (events.length === 0 && windows.length === 0) {
      return yield* new ControllerError({ message: `no events or results stored for test ${testId}` })
    }
    return buildReport({ testId, events, windows, thresholds })
  })

  const stopAll: Flows["stopAll"] = (filter, options) => emergencyStop(p, filter, options)

  return { launch, stop, stopAll, report, history }
}
