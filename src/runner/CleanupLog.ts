// Collects what a test's finalizers removed and what they failed to remove, so the terminal
// event can carry `cleanup: {ok, removed, errors}` as docs/protocol.md requires.
import { Effect, Ref } from "effect"
import type { Cleanup } from "../protocol/events.ts"

export interface CleanupLog {
  readonly removed: (what: string) => Effect.Effect<void>
  readonly error: (what: string) => Effect.Effect<void>
  readonly report: Effect.Effect<Cleanup>
}

export const makeCleanupLog: Effect.Effect<CleanupLog> = Effect.map(
  Ref.make<{ removed: ReadonlyArray<string>; errors: ReadonlyArray<string> }>({ removed: [], errors: [] }),
  (ref): CleanupLog => ({
    removed: (what) => Ref.update(ref, (s) => ({ ...s, removed: [...s.removed, what] })),
    error: (what) => Ref.update(ref, (s) => ({ ...s, errors: [...s.errors, what] })),
    report: Effect.map(Ref.get(ref), (s) => ({ ok: s.errors.length === 0, removed: s.removed, errors: s.errors }))
  })
)
