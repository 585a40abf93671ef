// `npm run bench`: runs every bench/*.bench.ts in its own Node 24 process, one after the
// other (two cores here: benchmarks must not compete with each other), and fails if any
// benchmark fails. Each benchmark prints its own ratios against a peer measured in the same run.
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
let failed = 0
for (const file of files) {
  console.log(`\n=== ${file} ===`)
  const r = spawnSync(process.execPath, [join(here, file)], { stdio: "inherit" })
  if (r.status !== 0) {
    failed++
    console.log(`!!! ${file} failed (exit ${r.status ?? r.signal})`)
  }
}
process.exit(failed === 0 ? 0 : 1)
