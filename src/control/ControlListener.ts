// The control listener component: takes raw messages from the ControlSource, decodes each
// into a typed command (or a typed rejection), hands commands to the TestManager and acks
// once it decided. Bad input is rejected with a code and never stops the loop.
import { Clock, Effect, Result, Stream } from "effect"
import { DaemonConfig } from "../daemon/DaemonConfig.ts"
import { rejectedEvent } from "../protocol/events.ts"
import { EventSink } from "../runner/EventSink.ts"
import { TestManager } from "../runner/TestManager.ts"
import { type ControlMessage, ControlSource } from "./ControlSource.ts"
import { decodeCommand } from "./decodeCommand.ts"

export const controlListener = Effect.gen(function*() {
  const source = yield* ControlSource
  const manager = yield* TestManager
  const events = yield* EventSink
  const config = yield* DaemonConfig

  const handleOne = (message: ControlMessage) =>
    Effect.gen(function*() {
      const decoded = decodeCommand(message.data, config.maxCommandBytes)
      if (Result.isFailure(decoded)) {
        const r = decoded.failure
        yield* Effect.logWarning(`rejected a command: ${r.code}: ${r.message}`)
        yield* events.publish(rejectedEvent(config.nodeId, r, r.code, r.message, yield* Clock.currentTimeMillis))
      } else {
        yield* manager.handle(decoded.success)
      }
      yield* message.ack
    })

  yield* Effect.logInfo(`node ${config.nodeId} listening for commands`)
  // Sequential on purpose: commands are decided in the order they were published.
  return yield* source.messages.pipe(Stream.runForEach(handleOne))
})
