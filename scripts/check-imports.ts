// Checks the architecture's import rules over src/ (run by `npm run check:imports`, and in CI):
// nothing outside src/daemon/ and src/cli/ imports src/daemon/ (the composition root sits on top,
// components below it take their own options), and no two modules import each other, directly
// or through others. Type-only imports count: a cycle of types is still a cycle of concepts.
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const src = path.join(root, "src")

const files = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []
  )

const importPattern = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g

/** The src/ modules a file imports (relative specifiers only). */
const importsOf = (file: string): Array<string> => {
  const text = fs.readFileSync(file, "utf8")
  const out: Array<string> = []
  for (const m of text.matchAll(importPattern)) {
    const spec = m[1] ?? m[2]
    if (spec === undefined || !spec.startsWith(".")) continue
    out.push(path.resolve(path.dirname(file), spec))
  }
  return out
}

const rel = (f: string) => path.relative(root, f)
const all = files(src)
const graph = new Map(all.map((f) => [f, importsOf(f).filter((t) => t.startsWith(src))]))
const problems: Array<string> = []

const daemonDir = path.join(src, "daemon") + path.sep
const allowedAbove = [daemonDir, path.join(src, "cli") + path.sep]
for (const [file, targets] of graph) {
  if (allowedAbove.some((d) => file.startsWith(d))) continue
  for (const t of targets) if (t.startsWith(daemonDir)) problems.push(`${rel(file)} imports ${rel(t)} (only src/daemon/ and src/cli/ may)`)
}

// Cycles: depth-first search with colours; each cycle is reported once, by its members.
const state = new Map<string, "open" | "done">()
const stack: Array<string> = []
const seen = new Set<string>()
const visit = (f: string) => {
  state.set(f, "open")
  stack.push(f)
  for (const t of graph.get(f) ?? []) {
    if (!graph.has(t)) continue
    if (state.get(t) === "open") {
      const cycle = stack.slice(stack.indexOf(t)).map(rel)
      const key = [...cycle].sort().join(" ")
      if (!seen.has(key)) {
        seen.add(key)
        problems.push(`import cycle: ${[...cycle, rel(t)].join(" -> ")}`)
      }
    } else if (state.get(t) === undefined) visit(t)
  }
  stack.pop()
  state.set(f, "done")
}
for (const f of all) if (state.get(f) === undefined) visit(f)

if (problems.length > 0) {
  console.error(`import rules: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join("\n")}`)
  process.exitCode = 1
} else console.log(`import rules: ${all.length} modules under src/, no import of src/daemon/ from below it, no cycle`)
