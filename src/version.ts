// What build of grid this is, readable without loading Effect (so `grid --version` and
// `grid version` answer at the cost of a bare Node start). The build script (scripts/build.ts)
// stamps the commit and the build time into bundles through esbuild's `define`; a run from
// the sources says "source" and asks git for the commit only when asked.
export const VERSION = "0.1.0"

declare const __GRID_BUILD__: { readonly commit: string; readonly builtAt: string; readonly kind: string } | undefined

export interface BuildInfo {
  readonly version: string
  readonly commit: string
  readonly node: string
  readonly builtAt: string | null
  /** "binary" (dist/grid), "bundle" (the npm package) or "source" (node src/cli/main.ts). */
  readonly build: string
}

const sourceCommit = (): string => {
  try {
    // Loaded here, not at the top: a built grid never needs it, and every module costs at start.
    const { execFileSync } = process.getBuiltinModule("node:child_process")
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: import.meta.dirname, stdio: ["ignore", "pipe", "ignore"], encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}

export const buildInfo = (): BuildInfo =>
  typeof __GRID_BUILD__ !== "undefined"
    ? { version: VERSION, commit: __GRID_BUILD__.commit, node: process.version, builtAt: __GRID_BUILD__.builtAt, build: __GRID_BUILD__.kind }
    : { version: VERSION, commit: sourceCommit(), node: process.version, builtAt: null, build: "source" }

export const formatBuildInfo = (info: BuildInfo): string =>
  `grid ${info.version} (${info.build}, commit ${info.commit.slice(0, 12)}, node ${info.node}${info.builtAt ? `, built ${info.builtAt}` : ""})`

/** What `grid version` prints: one line, or one JSON object with `--json`. */
export const versionText = (json: boolean): string => json ? JSON.stringify(buildInfo()) : formatBuildInfo(buildInfo())

/** The answers that need no parsing library: what `--version` and `version [--json]` print. */
export const instantAnswer = (args: ReadonlyArray<string>): string | undefined => {
  const line = args.join(" ")
  if (line === "--version" || line === "-v") return `grid v${VERSION}`
  if (line === "version") return versionText(false)
  if (line === "version --json") return versionText(true)
  return undefined
}
