// `--dashboard[=addr]` of `grid run`, `grid launch` and `grid results`, and what the commands
// share around it and `--html`: the page's description of the test (title, command line, flags in
// force) and the one call that serves a feed. The HTTP modules (dashboardHttp.ts, effect's
// server) are imported only when the flag is given.
import { Effect } from "effect"
import { Flag } from "effect/cli"
import { basename, extname } from "node:path"
import type { DashboardFeed } from "../dashboard/Feed.ts"

/** Bare `--dashboard`: 127.0.0.1 on a free port (printed at start). */
export const DEFAULT_DASHBOARD_ADDR = "127.0.0.1:0"

export const dashboardFlag = Flag.String("dashboard").pipe(
  Flag.withDescription(
    "Serve a live dashboard (charts, tables, thresholds, nodes) in the browser while the test runs; --dashboard=host:port or =port to choose where (default 127.0.0.1, a free port; the URL is printed)"
  ),
  Flag.withMetavar("addr"),
  Flag.withOptionalValue(DEFAULT_DASHBOARD_ADDR),
  Flag.optional
)

/** A word of a command line as a shell would need it typed. */
const shellWord = (w: string): string => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)

/** The command line as typed (`grid run s.yaml --users 5`), clipped to 2000 characters. */
export const commandLine = (argv: ReadonlyArray<string> = process.argv.slice(2)): string => {
  const line = ["grid", ...argv].map(shellWord).join(" ")
  return line.length > 2000 ? `${line.slice(0, 2000)}...` : line
}

/** A scenario's or plan's title: its name, else its file name without the extension. */
export const titleOf = (file: string, name?: string | undefined): string =>
  name !== undefined && name.trim() !== "" ? name : basename(file, extname(file))

/** Settings in force as strings, the unset ones left out. */
export const flagsInForce = (entries: Record<string, string | number | boolean | undefined | null>): Record<string, string> =>
  Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [k, String(v)]))

/** Serves `feed` on `addr` in the caller's scope. */
export const serveFeed = (addr: string, feed: DashboardFeed) =>
  Effect.flatMap(Effect.promise(() => import("./dashboardHttp.ts")), (m) => m.serveDashboard(addr, feed))
