#!/usr/bin/env node
// `grid` for the npm package (npm's bin link): checks the Node version before anything else
// (nothing above the check needs a recent Node), then runs, in a git checkout, the TypeScript
// sources directly (always current), and in the published package, which has no src/, the
// bundle (dist/npm/, built at `npm pack`). The single executable dist/grid needs none of
// this: it brings its own Node.
import { existsSync } from "node:fs"

const NEEDED = 24
const major = Number(process.versions.node.split(".")[0])
if (!(major >= NEEDED)) {
  process.stderr.write(
    `grid needs Node.js ${NEEDED} or newer, and this is Node.js ${process.version} (${process.execPath}).\n` +
      `Install Node.js ${NEEDED}, or use the single executable \`grid\` (npm run build -> dist/grid), which brings its own Node.\n`
  )
  process.exit(1)
}

const sources = new URL("../src/cli/main.ts", import.meta.url)
await import(existsSync(sources) ? sources.href : new URL("../dist/npm/main.js", import.meta.url).href)
