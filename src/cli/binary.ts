// The entry of the single executable (dist/grid), around the CLI bundles (main.ts), which
// scripts/build.ts stores in the executable as assets with their V8 code caches. Node maps and
// compiles an executable's main script at every start, so keeping it this small is what makes
// `grid --version` cost a bare Node start; any other command compiles a bundle from its cache:
// `grid daemon` its own (only the daemon's code, whose source it holds for as long as it runs),
// every other command the whole CLI's.
// CommonJS: an executable's main script is one, and its `require` reaches only Node's modules.
import { instantAnswer } from "../version.ts"

/** Subcommands with a bundle of their own (scripts/build.ts makes grid-<word>.cjs). */
const ownBundle = new Set(["daemon"])

/** The subcommand word as main.ts reads it: the first argument not a global flag or its value. */
const subcommandOf = (args: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--log-level") i++
    else if (!a.startsWith("-")) return a
  }
  return undefined
}

const args = process.argv.slice(2)
const instant = instantAnswer(args)
if (instant !== undefined) {
  process.stdout.write(`${instant}\n`)
} else {
  const { getAsset } = process.getBuiltinModule("node:sea")
  const { Script } = process.getBuiltinModule("node:vm")
  const word = subcommandOf(args)
  const name = word !== undefined && ownBundle.has(word) ? `grid-${word}.cjs` : "grid.cjs"
  // Node's own CommonJS wrapper, so the bundle sees module, exports and require as usual.
  const source = `(function (exports, require, module, __filename, __dirname) {${getAsset(name, "utf8")}\n})`
  const script = new Script(source, { filename: name, cachedData: Buffer.from(getAsset(`${name}.cache`)) })
  const mod = { exports: {} }
  script.runInThisContext()(mod.exports, require, mod, process.execPath, ".")
}
