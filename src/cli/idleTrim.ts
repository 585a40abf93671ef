// One full garbage collection shortly after `grid daemon` is up. Starting the node leaves
// megabytes of garbage in the JavaScript heap: the single executable's copies of its bundle and
// code cache, the parsed flags, the NATS handshake, the layers' construction. An idle daemon
// allocates so little afterwards that V8 has no reason to collect them, so the process kept
// them for as long as it ran (measured: 8-12 MB of its idle RSS, bench/startup.bench.ts). One
// collection that compacts and returns free pages to the system costs tens of milliseconds once.
// V8 only offers that collection through `gc`, which the --expose-gc flag installs in contexts
// made after it is set: the flag is set here, read from a fresh context, and cleared again, so
// no code of grid or its libraries sees a global `gc`.
import { Duration, Effect } from "effect"

/** After this long the node has connected, announced itself and started its loops. */
export const trimDelay = Duration.seconds(2)

type GcOptions = { readonly type: "major"; readonly execution: "sync"; readonly flavor: "last-resort" }

const collect = Effect.sync(() => {
  const v8 = process.getBuiltinModule("node:v8")
  const vm = process.getBuiltinModule("node:vm")
  v8.setFlagsFromString("--expose-gc")
  try {
    const gc = vm.runInNewContext("gc") as ((options: GcOptions) => void) | undefined
    // "last-resort" is V8's collect-all-available-garbage: it compacts and releases pages.
    if (typeof gc === "function") gc({ type: "major", execution: "sync", flavor: "last-resort" })
  } finally {
    v8.setFlagsFromString("--no-expose-gc")
  }
})

/** Waits trimDelay, then collects once; never fails (a Node without the flag just skips it). */
export const trimAfterStart: Effect.Effect<void> = Effect.sleep(trimDelay).pipe(
  Effect.andThen(collect),
  Effect.catchDefect(() => Effect.void)
)
