// One supervisor for the daemon's components (control listener, health reporter, and any
// other long-running fiber): each runs forked in the caller's scope; the first one to fail
// completes `failed` with a typed error naming it. The caller then returns that failure and
// its scope closes, which interrupts the other components and runs every finalizer in order.
import { Cause, Deferred, Effect, Schema, type Scope } from "effect"

export class ComponentFailed extends Schema.TaggedError<ComponentFailed>()("ComponentFailed", {
  component: Schema.String,
  message: Schema.String
}) {}

export interface Supervisor {
  /** Forks `effect` as a component; its failure (not its interruption) fails the supervisor. */
  readonly add: <A, E, R>(component: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<void, never, R | Scope.Scope>
  /** Fails with the first component failure; never succeeds. */
  readonly failed: Effect.Effect<never, ComponentFailed>
}

export const makeSupervisor: Effect.Effect<Supervisor> = Effect.map(
  Deferred.make<never, ComponentFailed>(),
  (failure): Supervisor => ({
    add: (component, effect) =>
      effect.pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.void
            : Effect.logError(`component ${component} failed`, cause).pipe(
              Effect.andThen(Deferred.fail(failure, new ComponentFailed({ component, message: Cause.pretty(cause) })))
            )
        ),
        Effect.forkScoped,
        Effect.asVoid
      ),
    failed: Deferred.await(failure)
  })
)
