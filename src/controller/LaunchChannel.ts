// The grid-scoped flag `launch.channel` (issue #13): a launch for `--grid G` that names no
// `--channel` (nor `--nodes`) selects only nodes of the channel G is pinned to, so reverting one
// customer to the stable channel is one `grid flags set launch.channel stable --grid G`. The
// bus reads the flag (Controller.ts over KV grid_flags); a bus without flags pins nothing.
import { Effect } from "effect"
import type { LaunchUpdate } from "./Launch.ts"
import type { Primitives } from "./NodeBus.ts"
import type { Selection } from "./Selection.ts"

export const pinnedSelection = Effect.fn("controller.launchChannel")(function*(
  p: Primitives,
  selection: Selection,
  onUpdate: ((u: LaunchUpdate) => void) | undefined
) {
  const grid = selection.grid
  if (grid === undefined || selection.channel !== undefined || (selection.nodes?.length ?? 0) > 0 || p.launchChannel === undefined) {
    return selection
  }
  const channel = yield* p.launchChannel(grid)
  if (channel === undefined) return selection
  onUpdate?.({ type: "phase", message: `grid ${grid} is pinned to channel ${channel} (flag launch.channel): only its nodes are selected` })
  return { ...selection, channel }
})
