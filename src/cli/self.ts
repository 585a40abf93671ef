// How grid starts another grid process (the built-in engine's `grid engine ...`), whichever way
// this one runs: the single executable (dist/grid) is its own entry, so argv is just its path;
// the npm package's bundle and the sources are a script that this Node runs. Never a `node`
// looked up on PATH: a machine with only dist/grid has none.
import { isSea } from "node:sea"

/** The bundle's entry file name, beside its chunks; set by scripts/build.ts. */
declare const __GRID_BUNDLE_MAIN__: string | undefined

/** argv that starts grid itself; append the subcommand and its arguments. */
export const gridArgv = (): ReadonlyArray<string> => {
  if (isSea()) return [process.execPath]
  const main = typeof __GRID_BUNDLE_MAIN__ !== "undefined" ? __GRID_BUNDLE_MAIN__ : "main.ts"
  return [process.execPath, new URL(main, import.meta.url).pathname]
}

/**
 * V8 flags for a child grid, as NODE_OPTIONS: the executable takes no Node flags on its
 * command line (they would reach grid's own argument parser), but it honours NODE_OPTIONS.
 * A tool never inherits the daemon's environment (src/runner/ToolEnv.ts), so these are all.
 */
export const nodeOptionsEnv = (flags: ReadonlyArray<string>): Record<string, string> => ({ NODE_OPTIONS: flags.join(" ") })
