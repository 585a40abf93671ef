// Node selection for a launch that may wait: while busy nodes are all that is missing, it
// waits (bounded by the launch's `waitIdle`) instead of refusing at once, saying what it waits
// for: a node ends its test a moment before its heartbeat says it is idle again.
import { Clock, Duration, Effect } from "effect"
import type { Primitives } from "./NodeBus.ts"
import type { Plan } from "./Plan.ts"
import { type Selection, SelectionError, selectNodes } from "./Selection.ts"

/** Selects the nodes, waiting (bounded by `waitIdle`) while busy nodes are all that is missing:
 * a node ends its test a moment before its heartbeat says it is idle again. */
export const waitForIdle = (
  p: Primitives,
  plan: Plan,
  selection: Selection,
  options: {
    readonly waitIdle?: Duration.Input | undefined
    readonly onUpdate?: ((u: { readonly type: "phase"; readonly message: string }) => void) | undefined
  }
) =>
  Effect.gen(function*() {
    const waitMs = Duration.toMillis(Duration.fromInputUnsafe(options.waitIdle ?? "30 seconds"))
    const deadline = (yield* Clock.currentTimeMillis) + waitMs
    let said = false
    for (;;) {
      const chosen = selectNodes(yield* p.nodes, plan.tool, selection)
      if (!(chosen instanceof SelectionError)) return chosen
      const now = yield* Clock.currentTimeMillis
      if (chosen.busy === undefined || waitMs <= 0) return yield* chosen
      if (now >= deadline) return yield* new SelectionError({ message: `${chosen.message}, still after waiting ${waitMs / 1000} s (--wait-idle)` })
      if (!said) {
        said = true
        options.onUpdate?.({ type: "phase", message: `waiting up to ${waitMs / 1000} s for ${chosen.busy.join(", ")} to become idle` })
      }
      yield* Effect.sleep("200 millis")
    }
  })
