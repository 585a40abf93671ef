// The entry of the single executable (dist/grid), around the whole CLI bundle (main.ts), which
// scripts/build.ts stores in the executable as an asset with its V8 code cache. Node maps and
// compiles an executable's main script at every start, so keeping it this small is what makes
// `grid --version` cost a bare Node start; any other command compiles the bundle from its cache.
// CommonJS: an executable's main script is one, and its `require` reaches only Node's modules.
import { instantAnswer } from "../version.ts"

const instant = instantAnswer(process.argv.slice(2))
if (instant !== undefined) {
  process.stdout.write(`${instant}\n`)
} else {
  const { getAsset } = process.getBuiltinModule("node:sea")
  const { Script } = process.getBuiltinModule("node:vm")
  // Node's own CommonJS wrapper, so the bundle sees module, exports and require as usual.
  const source = `(function (exports, require, module, __filename, __dirname) {${getAsset("grid.cjs", "utf8")}\n})`
  const script = new Script(source, { filename: "grid.cjs", cachedData: Buffer.from(getAsset("grid.cjs.cache")) })
  const mod = { exports: {} }
  script.runInThisContext()(mod.exports, require, mod, process.execPath, ".")
}
