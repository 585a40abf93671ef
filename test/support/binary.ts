// The single executable under test: dist/grid, built by `npm run build` (CI builds it before the
// tests). Rebuilt here when missing or older than a source file, so a test never runs a stale
// binary against newer sources.
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "../..")
export const binaryPath = join(root, "dist/grid")

const newestSource = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((newest, e) => {
    const p = join(dir, e.name)
    return Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs)
  }, 0)

export const ensureBinary = (): string => {
  const stale = !existsSync(binaryPath) ||
    statSync(binaryPath).mtimeMs < Math.max(newestSource(join(root, "src")), statSync(join(root, "scripts/build.ts")).mtimeMs)
  if (stale) execFileSync(join(root, "node_modules/.bin/node"), [join(root, "scripts/build.ts")], { cwd: root, stdio: "pipe", timeout: 180_000 })
  return binaryPath
}
