// The tests' lifecycle metrics, read off the protocol events the node publishes: every
// acceptance, refusal and terminal event passes through the EventSink, so one tap on it counts
// them all (started by tool and runner, refused by code, ended by outcome, and how long each
// took) without the runner or the control listener knowing about metrics. `grid daemon` wraps
// its sink with this layer; a test id is only a key of the in-flight map, never a label.
import { Clock, Effect, Layer } from "effect"
import * as Metric from "effect/Metric"
import type { GridEvent } from "../protocol/events.ts"
import { EventSink } from "../runner/EventSink.ts"
import { commandsRejected, count, testDuration, testsEnded, testsStarted } from "./NodeMetrics.ts"

/** Counts what `event` says about the node's tests; `acceptedAt` holds the tests in flight. */
const observe = (acceptedAt: Map<string, number>, event: GridEvent) =>
  Effect.gen(function*() {
    switch (event.kind) {
      case "accepted":
        if (event.testId !== undefined) acceptedAt.set(event.testId, yield* Clock.currentTimeMillis)
        return yield* count(testsStarted, 1, { tool: event.tool, runner: event.runner })
      case "rejected":
        return yield* count(commandsRejected, 1, { code: event.code })
      case "finished":
      case "failed":
      case "stopped": {
        yield* count(testsEnded, 1, { outcome: event.kind })
        const since = event.testId === undefined ? undefined : acceptedAt.get(event.testId)
        if (since === undefined) return
        acceptedAt.delete(event.testId!)
        return yield* Metric.update(testDuration, ((yield* Clock.currentTimeMillis) - since) / 1000)
      }
      default:
        return
    }
  })

/** The provided EventSink, counted. */
export const countedEvents = Layer.effect(
  EventSink,
  Effect.gen(function*() {
    const sink = yield* EventSink
    const acceptedAt = new Map<string, number>()
    return EventSink.of({
      publish: (event) => Effect.andThen(observe(acceptedAt, event), sink.publish(event)),
      stats: sink.stats
    })
  })
)
