// The control listener component: takes raw messages from the ControlSource, decodes each
// into a typed command (or a typed rejection), hands commands to the TestManager and acks
// once it decided. Whatever goes wrong while handling one message (bad input, a defect, a
// throw in a library, a stack overflow) is contained to it: it is answered with a rejection
// and acked, and the loop goes on. A message that came back more than `MAX_DELIVERIES` times
// (the node died handling it each time) is answered and terminated, never redelivered again.
import { Cause, Clock, Effect, Option, Result, Stream } from "effect"
import { clip, rawSummary } from "../protocol/bounded.ts"
import { type RejectCode, rejectedEvent } from "../protocol/events.ts"
import { parseTraceparent } from "../protocol/traceContext.ts"
import { EventSink } from "../runner/EventSink.ts"
import { TestManager } from "../runner/TestManager.ts"
import { type ControlMessage, ControlSource } from "./ControlSource.ts"
import { decodeCommand, type Rejection, traceparentOf } from "./decodeCommand.ts"

/** Deliveries of one message after which it is terminated instead of handled again. */
export const MAX_DELIVERIES = 5

/** What the listener needs to know of its node. */
export interface ControlOptions {
  readonly nodeId: string
  /** Larger commands are rejected as `invalid_command`. */
  readonly maxCommandBytes: number
}

export const controlListener = (config: ControlOptions) => Effect.gen(function*() {
  const source = yield* ControlSource
  const manager = yield* TestManager
  const events = yield* EventSink

  const answer = (ids: { testId?: string | undefined; commandId?: string | undefined }, code: RejectCode, message: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (ms) => events.publish(rejectedEvent(config.nodeId, ids, code, message, ms)))

  const decide = Effect.fn("control.decide")(function*(message: ControlMessage) {
    const decoded = yield* Effect.sync(() => decodeCommand(message.data, config.maxCommandBytes)).pipe(Effect.withSpan("control.decode"))
    if (Result.isFailure(decoded)) {
      const r = decoded.failure
      yield* Effect.logWarning(`rejected a command (${rawSummary(message.data, 80)}): ${r.code}: ${clip(r.message)}`)
      return yield* answer(r, r.code, r.message)
    }
    const command = decoded.success
    if (message.deliveryCount > MAX_DELIVERIES) {
      yield* Effect.logError(`command ${clip(command.commandId, 80)} was delivered ${message.deliveryCount} times without being decided; terminating it`)
      return yield* answer(
        { testId: "testId" in command ? command.testId : undefined, commandId: command.commandId },
        "internal_error",
        `the node could not handle this command in ${message.deliveryCount} deliveries`
      )
    }
    yield* manager.handle(command)
  })

  /** The ids of a message for its answer, read again only after handling it failed. */
  const idsOf = (message: ControlMessage): Pick<Rejection, "testId" | "commandId"> => {
    const decoded = decodeCommand(message.data, config.maxCommandBytes)
    return Result.isSuccess(decoded)
      ? { testId: "testId" in decoded.success ? decoded.success.testId : undefined, commandId: decoded.success.commandId }
      : { testId: decoded.failure.testId, commandId: decoded.failure.commandId }
  }

  // A start sent by a traced launch: its spans on this node are children of the launch's.
  const traced = (message: ControlMessage) => {
    const parent = parseTraceparent(traceparentOf(message.data, config.maxCommandBytes))
    return Option.isSome(parent) ? Effect.withParentSpan(decide(message), parent.value) : decide(message)
  }

  const handleOne = (message: ControlMessage) =>
    Effect.suspend(() => traced(message)).pipe(
      Effect.catchCause((cause) =>
        // Interruption is the node stopping: leave the message unacked for the next life.
        Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.gen(function*() {
          yield* Effect.logError(`handling a command (${rawSummary(message.data, 80)}) failed`, cause)
          const ids = yield* Effect.sync(() => idsOf(message)).pipe(Effect.orElseSucceed(() => ({})))
          yield* answer(ids, "internal_error", `the node failed while handling this command: ${clip(defectMessage(cause))}`)
        })
      ),
      Effect.andThen(message.deliveryCount > MAX_DELIVERIES ? message.term : message.ack)
    )

  yield* Effect.logInfo(`node ${config.nodeId} listening for commands`)
  // Sequential on purpose: commands are decided in the order they were published.
  return yield* source.messages.pipe(Stream.runForEach(handleOne))
})

/** The one line of a failure that may reach an event: its message, never its stack. */
const defectMessage = (cause: Cause.Cause<unknown>): string => {
  const e = Cause.squash(cause)
  return e instanceof Error ? `${e.name}: ${e.message}` : typeof e === "string" ? e : "unknown failure"
}
