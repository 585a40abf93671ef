// The handles the TestManager keeps on one running test, through which `stop`, `go` and
// shutdown reach it. Completing a Deferred is the only way in: the test's own fiber decides.
import { Deferred, Duration, Effect, Ref } from "effect"
import type { RejectCode } from "../protocol/events.ts"

export type Decision =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "Rejected"; readonly code: RejectCode; readonly message: string }

export interface StopRequest {
  readonly reason: string
  readonly grace: Duration.Duration
  readonly commandId?: string | undefined
}

export interface TestControl {
  readonly testId: string
  readonly commandId: string
  /** Completed once the test is accepted or rejected (the control message is then acked). */
  readonly decided: Deferred.Deferred<Decision>
  readonly stop: Deferred.Deferred<StopRequest>
  /** Skip what is left of the grace (second shutdown signal). */
  readonly force: Deferred.Deferred<void>
  readonly go: Deferred.Deferred<void>
  readonly atBarrier: Ref.Ref<boolean>
  /** Takes one of the node's slots once the command proved valid; a message when all are
   * taken. Validation comes first, so an invalid start is never answered `busy`. */
  readonly admit: Effect.Effect<string | undefined>
}

export const makeTestControl = (
  testId: string,
  commandId: string,
  admit: Effect.Effect<string | undefined> = Effect.succeed(undefined)
): Effect.Effect<TestControl> =>
  Effect.all({
    decided: Deferred.make<Decision>(),
    stop: Deferred.make<StopRequest>(),
    force: Deferred.make<void>(),
    go: Deferred.make<void>(),
    atBarrier: Ref.make(false)
  }).pipe(Effect.map((d) => ({ testId, commandId, admit, ...d })))
