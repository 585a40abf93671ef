// The emergency stop flow (`grid stop --all`): one durable order in `grid_stops` that every
// matching node obeys (now, or when it reconnects, if the order is younger than its test),
// then a bounded wait for the terminal event of every test the matching nodes' heartbeats
// listed. The outcome says, per node and test, what ended and what did not confirm.
import { Clock, Duration, Effect, Fiber, Stream } from "effect"
import * as crypto from "node:crypto"
import { terminalKinds } from "../protocol/events.ts"
import { EMERGENCY_REASON, orderMatches, type StopOrder } from "../protocol/stopOrders.ts"
import { ControllerError, type Primitives } from "./NodeBus.ts"

export interface EmergencyFilter {
  readonly gridId?: string | undefined
  readonly channel?: string | undefined
  readonly nodeId?: string | undefined
}

export interface EmergencyOutcome {
  readonly orderId: string
  /** Matching live nodes with the tests they ran, each with its terminal event's kind and
   * reason, or `timeout` when none came within the bound. */
  readonly nodes: ReadonlyArray<{
    readonly nodeId: string
    readonly tests: ReadonlyArray<{ readonly testId: string; readonly result: string; readonly reason?: string | undefined }>
  }>
}

const isTerminal = (kind: string) => (terminalKinds as ReadonlyArray<string>).includes(kind)

export const emergencyStop = Effect.fn("controller.emergencyStop")(function*(
  p: Primitives,
  filter: EmergencyFilter,
  options: { readonly reason?: string | undefined; readonly timeout?: Duration.Input | undefined } = {}
) {
  const put = p.putStopOrder
  if (put === undefined) return yield* new ControllerError({ message: "this bus cannot carry emergency stop orders" })
  const now = yield* Clock.currentTimeMillis
  const order: StopOrder = {
    orderId: `stop-${new Date(now).toISOString().replace(/[-:.]/g, "")}-${crypto.randomUUID().slice(0, 8)}`,
    at: new Date(now).toISOString(),
    reason: options.reason ?? EMERGENCY_REASON,
    ...(filter.gridId !== undefined ? { gridId: filter.gridId } : {}),
    ...(filter.channel !== undefined ? { channel: filter.channel } : {}),
    ...(filter.nodeId !== undefined ? { nodeId: filter.nodeId } : {})
  }
  const nodes = (yield* p.nodes).filter((n) => orderMatches(order, n.heartbeat))
  const expected = nodes.flatMap((n) => n.heartbeat.tests.map((testId) => ({ nodeId: n.heartbeat.nodeId, testId })))
  const results = new Map<string, { result: string; reason?: string | undefined }>()
  const key = (nodeId: string, testId: string) => `${nodeId}/${testId}`
  // Followers first (they read each test's events from its start): nothing is missed.
  const testIds = [...new Set(expected.map((e) => e.testId))]
  const waiting = Effect.forEach(testIds, (testId) => {
    const on = new Set(expected.filter((e) => e.testId === testId).map((e) => e.nodeId))
    return p.events(testId).pipe(
      Stream.filter((e) => on.has(e.nodeId) && isTerminal(e.kind)),
      Stream.runForEachWhile((e) =>
        Effect.sync(() => {
          results.set(key(e.nodeId, testId), { result: e.kind, reason: e.kind === "stopped" ? (e as { reason?: string }).reason : undefined })
          return [...on].some((n) => !results.has(key(n, testId)))
        })
      )
    )
  }, { concurrency: "unbounded", discard: true })
  const fiber = yield* Effect.forkChild(waiting.pipe(Effect.timeoutOption(options.timeout ?? Duration.seconds(10))))
  yield* put(order)
  yield* Fiber.join(fiber).pipe(Effect.ignore)
  return {
    orderId: order.orderId,
    nodes: nodes.map((n) => ({
      nodeId: n.heartbeat.nodeId,
      tests: n.heartbeat.tests.map((testId) => ({ testId, ...(results.get(key(n.heartbeat.nodeId, testId)) ?? { result: "timeout" }) }))
    }))
  } satisfies EmergencyOutcome
})
