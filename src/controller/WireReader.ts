// How the controller reads what nodes put on the wire: every event, result window and
// heartbeat goes through its Schema (src/protocol). A message that does not decode is skipped
// with one bounded warning (at most 200 characters of it): one bad message from a buggy or
// newer node never fails a launch, a report or a stop.
import { Effect, Result } from "effect"
import { clip, ECHO_CHARS } from "../protocol/bounded.ts"
import { type ReadEvent, readEvent } from "../protocol/events.ts"
import { type Heartbeat, readHeartbeat } from "../protocol/health.ts"
import { decodeResultWindow, type ResultWindow } from "../protocol/results.ts"

/** One line: a schema complaint spans several. */
const skip = (where: string, why: string) =>
  Effect.logWarning(`skipped a message on ${where}: ${why.replace(/\s+/g, " ")}`).pipe(Effect.as(undefined))

/** An event message, or undefined (logged) when it is not one. */
export const eventOf = (where: string, text: string): Effect.Effect<ReadEvent | undefined> => {
  const r = readEvent(text)
  return Result.isSuccess(r) ? Effect.succeed(r.success) : skip(where, r.failure)
}

/** A result window, or undefined (logged) when the message is not one. */
export const windowOf = (where: string, text: string): Effect.Effect<ResultWindow | undefined> =>
  decodeResultWindow(text).pipe(
    Effect.catch((e) => skip(where, `not a result window (${clip(String(e), ECHO_CHARS)}): ${clip(text, ECHO_CHARS)}`))
  )

/** A heartbeat, or undefined (logged) when the value is not one. */
export const heartbeatOf = (where: string, text: string): Effect.Effect<Heartbeat | undefined> => {
  const r = readHeartbeat(text)
  return Result.isSuccess(r) ? Effect.succeed(r.success) : skip(where, r.failure)
}
