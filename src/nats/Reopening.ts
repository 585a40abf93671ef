// The loop both resilient readers share (ResilientFollow.ts, ResilientKvWatch.ts): open a
// session, run it until NATS reconnected or nothing proved it alive for `stallMs`, close it
// with its scope, and open the next one, forever (until the caller's scope closes). A failed
// open (no leader elected yet) is retried like a stall, 250 ms later.
import type { NatsConnection as Conn } from "@nats-io/transport-node"
import { Clock, Effect, Schedule, type Scope, Stream } from "effect"

/** One session: `open` (bounded by the caller) returns what pumps it; `alive` marks progress. */
export type Session = (alive: Effect.Effect<void>) => Effect.Effect<Effect.Effect<void, unknown>, unknown, Scope.Scope>

export const reopening = (nc: Conn, stallMs: number, open: Session): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    let reconnects = 0
    let lastAt = 0
    yield* Stream.fromAsyncIterable(nc.status(), () => undefined).pipe(
      Stream.runForEach((s) => Effect.sync(() => (s.type === "reconnect" ? reconnects++ : undefined))),
      Effect.ignore,
      Effect.forkScoped
    )
    const alive = Effect.map(Clock.currentTimeMillis, (now) => void (lastAt = now))
    const once = Effect.scoped(Effect.gen(function*() {
      const seenReconnects = reconnects
      const pump = yield* open(alive)
      // Silence counts from the end of the open, which may be slow while a cluster elects.
      yield* alive
      const stale = Clock.currentTimeMillis.pipe(
        Effect.repeat({ schedule: Schedule.spaced("250 millis"), until: (now) => reconnects !== seenReconnects || now - lastAt > stallMs })
      )
      yield* Effect.raceFirst(pump, stale)
    }))
    yield* once.pipe(
      Effect.ignore,
      Effect.andThen(Effect.sleep("250 millis")),
      Effect.forever,
      Effect.forkScoped
    )
  })
