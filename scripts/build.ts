// `npm run build`: the two ways grid ships, both from src/cli/main.ts through esbuild.
// - dist/grid: one executable for Linux x64 (Node's single executable application): a CommonJS
//   bundle with its V8 code cache injected into a copy of the Node 24 that runs this script.
//   Everything a subcommand needs is inside it: the Locust hook is inlined text, the built-in
//   engine is `dist/grid engine` (src/cli/self.ts), so it needs no node_modules, Node or network.
// - dist/npm/: the npm package's ESM bundle, split per subcommand so each loads only its own
//   code; bin/grid.js runs it (`npm pack` builds it through `prepack`).
// `--npm` builds only the second. The commit and build time are stamped into both (src/version.ts).
import { execFileSync } from "node:child_process"
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { Script } from "node:vm"
import { build, type BuildOptions, type Plugin, transformSync } from "esbuild"
import { readAssets } from "../src/dashboard/Assets.ts"

const root = join(import.meta.dirname, "..")
const dist = join(root, "dist")
const onlyNpm = process.argv.includes("--npm")
const started = performance.now()

const commit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return "unknown"
  }
})()
const builtAt = new Date().toISOString()
const [major] = process.versions.node.split(".").map(Number)
if (major! < 24) {
  console.error(`build: needs Node 24 (this is ${process.version}); run it as \`npm run build\``)
  process.exit(1)
}

// The dashboard page's scripts and styles (src/dashboard/page/, uPlot) inlined into the bundles,
// the page's own scripts minified: the npm package and dist/grid serve and write the page alone.
const pageAssets = (() => {
  const a = readAssets(join(root, "src/dashboard/page"), join(root, "node_modules/uplot/dist"))
  return { ...a, appJs: transformSync(a.appJs, { minify: true, target: "es2020", legalComments: "none" }).code }
})()

const defines = (kind: string): Record<string, string> => ({
  __GRID_DASHBOARD_ASSETS__: JSON.stringify(pageAssets),
  __GRID_BUILD__: JSON.stringify({ commit, builtAt, kind }),
  __GRID_LOCUST_HOOK__: JSON.stringify(readFileSync(join(root, "src/tools/locust/grid_locust_hook.py"), "utf8"))
})

// Two libraries build an Intl object when their module loads, for output the daemon never
// prints: hdr-histogram-js's log writer a NumberFormat, effect/cli's help a grapheme Segmenter.
// Each makes ICU page in its locale and break-iterator data (measured: several MB of RSS for
// the life of an idle daemon), so both are built on first use instead. Fails the build if
// either text changed, rather than silently keeping the cost.
const lazyIntl: Array<{ file: RegExp; from: string; to: string }> = [
  {
    file: /hdr-histogram-js[\\/]dist[\\/]HistogramLogWriter\.js$/,
    from: "const timeFormatter = (0, formatters_1.floatFormatter)(5, 3);",
    to: "let timeFormatterCache; const timeFormatter = (v) => (timeFormatterCache ??= (0, formatters_1.floatFormatter)(5, 3))(v);"
  },
  {
    file: /effect[\\/]dist[\\/]cli[\\/]CliOutput\.js$/,
    from: "const graphemeSegmenter = /*#__PURE__*/new Intl.Segmenter(undefined, {",
    to: "let graphemeSegmenterCache; const graphemeSegmenter = { segment: (text) => (graphemeSegmenterCache ??= new Intl.Segmenter(undefined, graphemeSegmenterOptions)).segment(text) }; const graphemeSegmenterOptions = ({"
  }
]
const lazyIntlPlugin: Plugin = {
  name: "lazy-intl",
  setup(b) {
    for (const { file, from, to } of lazyIntl) {
      b.onLoad({ filter: file }, (args) => {
        const text = readFileSync(args.path, "utf8")
        if (!text.includes(from)) throw new Error(`lazy-intl: ${args.path} no longer contains ${JSON.stringify(from)}`)
        return { contents: text.replace(from, to), loader: "js" }
      })
    }
  }
}

const common: BuildOptions = {
  entryPoints: [join(root, "src/cli/main.ts")],
  bundle: true,
  platform: "node",
  target: "node24",
  minify: true,
  // Effect's error messages and spans use names, not function names: minifying them is safe.
  legalComments: "none",
  logLevel: "warning",
  plugins: [lazyIntlPlugin]
}

const buildNpm = async (): Promise<void> => {
  const out = join(dist, "npm")
  const tmp = mkdtempSync(join(dist, ".npm-"))
  await build({
    ...common,
    format: "esm",
    splitting: true,
    outdir: tmp,
    entryNames: "[name]",
    chunkNames: "chunks/[name]-[hash]",
    define: { ...defines("bundle"), __GRID_BUNDLE_MAIN__: JSON.stringify("../main.js") },
    // Some dependencies are CommonJS and call require() for Node's own modules.
    banner: { js: "import { createRequire as __gridRequire } from 'node:module'; const require = __gridRequire(import.meta.url);" }
  })
  // self.ts, in a chunk one folder down, finds the entry as ../main.js from its own URL.
  writeFileSync(join(tmp, "package.json"), `${JSON.stringify({ type: "module" })}\n`)
  rmSync(out, { recursive: true, force: true })
  chmodSync(tmp, 0o755)
  renameSync(tmp, out)
}

const buildBinary = async (): Promise<void> => {
  // A private work folder and an atomic rename at the end: two builds at once (two test files
  // finding the binary stale) must not leave a half-written dist/grid.
  const work = mkdtempSync(join(dist, ".sea-"))
  // The whole CLI, run by src/cli/binary.ts (the executable's small main) only when needed.
  const bundle = join(work, "grid.cjs")
  await build({
    ...common,
    format: "cjs",
    outfile: bundle,
    define: defines("binary"),
    // import.meta is only read on the source/npm paths (self.ts checks isSea() first).
    logOverride: { "empty-import-meta": "silent" }
  })
  // Its code cache, made by this same Node (V8 refuses a cache from another version or flags),
  // for exactly the source binary.ts compiles.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, "utf8")}\n})`
  writeFileSync(`${bundle}.cache`, new Script(source, { filename: "grid.cjs" }).createCachedData())
  const entry = join(work, "binary.cjs")
  await build({ ...common, entryPoints: [join(root, "src/cli/binary.ts")], format: "cjs", outfile: entry, define: defines("binary") })
  const blob = join(work, "grid.blob")
  writeFileSync(
    join(work, "sea-config.json"),
    JSON.stringify({
      main: entry,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      assets: { "grid.cjs": bundle, "grid.cjs.cache": `${bundle}.cache` }
    }, null, 2)
  )
  execFileSync(process.execPath, ["--experimental-sea-config", join(work, "sea-config.json")], { cwd: work, stdio: "pipe" })
  const exe = join(work, "grid")
  copyFileSync(process.execPath, exe)
  chmodSync(exe, 0o755)
  // Node's debug symbols are a fifth of the file and nothing at run time needs them.
  try {
    execFileSync("strip", ["--strip-all", exe], { stdio: "pipe" })
  } catch {
    console.warn("build: `strip` not available, dist/grid keeps Node's symbols")
  }
  const postject = join(root, "node_modules/postject/dist/cli.js")
  execFileSync(process.execPath, [postject, exe, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"], {
    stdio: "pipe"
  })
  renameSync(exe, join(dist, "grid"))
  rmSync(work, { recursive: true, force: true })
}

mkdirSync(dist, { recursive: true })
await buildNpm()
if (!onlyNpm) await buildBinary()
const size = (p: string) => `${(statSync(p).size / 1024 / 1024).toFixed(1)} MB`
console.log(
  `build: ${onlyNpm ? "" : `${relative(root, join(dist, "grid"))} (${size(join(dist, "grid"))}), `}` +
    `${relative(root, join(dist, "npm"))}/ (main.js ${size(join(dist, "npm/main.js"))}) ` +
    `at ${commit.slice(0, 12)} in ${((performance.now() - started) / 1000).toFixed(1)} s`
)
