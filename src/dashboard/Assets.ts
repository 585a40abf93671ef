// The page's static parts: uPlot (script and stylesheet, from node_modules/uplot) and the
// page's own scripts and stylesheet (src/dashboard/page/). `npm run build` reads and minifies
// them into the bundles (scripts/build.ts defines __GRID_DASHBOARD_ASSETS__), so dist/npm and
// the single executable dist/grid need no file beside them; from source they are read here.
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"

export interface PageAssets {
  readonly uplotJs: string
  readonly uplotCss: string
  /** The page's scripts, in load order, joined. */
  readonly appJs: string
  readonly appCss: string
}

declare const __GRID_DASHBOARD_ASSETS__: PageAssets | undefined

/** The page's own scripts, in load order (each adds to the `GridDash` namespace). */
export const pageScripts = ["format.js", "charts.js", "tables.js", "app.js"] as const
export const pageStyles = ["app.css"] as const

/** Reads the assets from a source tree (also what the build embeds). */
export const readAssets = (pageDir: string, uplotDir: string): PageAssets => ({
  uplotJs: readFileSync(join(uplotDir, "uPlot.iife.min.js"), "utf8"),
  uplotCss: readFileSync(join(uplotDir, "uPlot.min.css"), "utf8"),
  appJs: pageScripts.map((f) => readFileSync(join(pageDir, f), "utf8")).join("\n;\n"),
  appCss: pageStyles.map((f) => readFileSync(join(pageDir, f), "utf8")).join("\n")
})

let cached: PageAssets | undefined

export const pageAssets = (): PageAssets => {
  if (cached !== undefined) return cached
  if (typeof __GRID_DASHBOARD_ASSETS__ !== "undefined") cached = __GRID_DASHBOARD_ASSETS__
  else {
    const uplot = createRequire(import.meta.url).resolve("uplot")
    cached = readAssets(join(import.meta.dirname, "page"), join(uplot, ".."))
  }
  return cached
}
