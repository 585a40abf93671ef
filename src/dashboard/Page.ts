// The dashboard page as one HTML document: uPlot and the page's scripts and styles inline (no
// CDN, no second request), and either the test's data embedded (the HTML report, which opens
// offline) or the address of the live event stream (`grid run --dashboard`). The same page
// draws both; the scripts are src/dashboard/page/. Its static parts come from node_modules/uplot
// and src/dashboard/page/: `npm run build` reads and minifies them into the bundles (scripts/
// build.ts defines __GRID_DASHBOARD_ASSETS__), so dist/npm and the single executable dist/grid
// need no file beside them; from source they are read here.
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import type { DashboardData } from "./Model.ts"

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


const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

/** JSON inside a <script> element: `<` escaped, so no `</script>` or `<!--` can end it early. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")

/** Inline script text: a `</script` inside a string literal would end the element. */
const scriptText = (s: string): string => s.replace(/<\/script/gi, "<\\/script")

export type PageSource =
  | { readonly kind: "report"; readonly data: DashboardData }
  | { readonly kind: "live"; readonly title: string; readonly events: string }

export const dashboardPage = (source: PageSource): string => {
  const a = pageAssets()
  const title = source.kind === "report" ? source.data.meta.title : source.title
  const boot = source.kind === "report"
    ? `<script id="grid-data" type="application/json">${scriptJson(source.data)}</script>`
    : `<script id="grid-live" type="application/json">${scriptJson({ events: source.events })}</script>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="grid">
<link rel="icon" href="data:,">
<title>${esc(title)}</title>
<style>${a.uplotCss}</style>
<style>${a.appCss}</style>
</head><body>
<noscript><p>This report draws its charts and tables with JavaScript; its data is the JSON in the grid-data element of this file.</p></noscript>
<div id="app"></div>
${boot}
<script>${scriptText(a.uplotJs)}</script>
<script>${scriptText(a.appJs)}</script>
</body></html>
`
}
