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
import { join, relative, sep } from "node:path"
import { Script } from "node:vm"
import { build, type BuildOptions, type Plugin, transformSync } from "esbuild"
import { readAssets } from "../src/dashboard/Page.ts"

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

// playwright-core (the browser engine) reads its package.json and browsers.json with a require
// of a path it computes from its own folder, which a bundle no longer has (and the executable's
// require loads built-in modules only): both are inlined. Fails the build if coreBundle.js no
// longer has them (a newer playwright-core), rather than shipping a browser engine that cannot load.
const playwrightJson = /require\((import_path\d*)\.default\.join\(packageRoot, "(package|browsers)\.json"\)\)/g
const playwrightPlugin: Plugin = {
  name: "playwright-json",
  setup(b) {
    const dir = join(root, "node_modules/playwright-core")
    const json = (name: string) => `(${readFileSync(join(dir, `${name}.json`), "utf8")})`
    b.onLoad({ filter: /playwright-core[\\/]lib[\\/][\w]+\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8")
      if (args.path.endsWith("coreBundle.js") && text.search(playwrightJson) === -1) throw new Error(`playwright-json: ${args.path} no longer requires its package.json by path`)
      return { contents: text.replace(playwrightJson, (_, _p: string, name: string) => json(name)), loader: "js" }
    })
  }
}

// A bundle with one subcommand: main.ts's loaders of the others (its `subcommands` record, read
// from its text so a subcommand registered there is left out too) load a module that says so,
// as do the dynamic imports of `elsewhere` (modules the subcommand's process never runs).
const onlySubcommand = (word: string, elsewhere: ReadonlyArray<string> = []): Plugin => ({
  name: "only-subcommand",
  setup(b) {
    const main = readFileSync(join(root, "src/cli/main.ts"), "utf8")
    const files = new Map([...main.matchAll(/(\w+): \(\) => import\("\.\/([\w-]+\.ts)"\)/g)].map((m) => [`./${m[2]}`, m[1]!]))
    if (files.get(`./${word}.ts`) !== word) throw new Error(`only-subcommand: src/cli/main.ts registers no \`${word}\` loading ./${word}.ts`)
    b.onResolve({ filter: /^\.\/[\w-]+\.ts$/ }, (args) => {
      const other = files.get(args.path)
      if (args.kind !== "dynamic-import" || !args.importer.endsWith(join("src", "cli", "main.ts")) || other === undefined || other === word) return undefined
      return { path: other, namespace: "grid-elsewhere" }
    })
    b.onResolve({ filter: /\.ts$/ }, (args) => {
      const target = relative(root, join(args.resolveDir, args.path)).split(sep).join("/")
      return args.kind === "dynamic-import" && elsewhere.includes(target) ? { path: target, namespace: "grid-elsewhere" } : undefined
    })
    b.onLoad({ filter: /.*/, namespace: "grid-elsewhere" }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`\`${args.path}\` is not in the ${word} bundle`)})`,
      loader: "js"
    }))
  }
})

// V8 keeps a script's source as one byte per character only when it is all Latin-1, and the
// executable's asset reaches it through a UTF-8 decoder that makes any non-ASCII text two bytes
// per character: one "µ" in a dependency's regular expression doubled the bundle's size in the
// heap. esbuild's ASCII output already escapes strings, templates and identifiers; what it leaves
// is inside regular expression literals, where a \u escape of each UTF-16 unit means the same.
const asciiOnly = (text: string): string => text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const common: BuildOptions = {
  entryPoints: [join(root, "src/cli/main.ts")],
  bundle: true,
  platform: "node",
  target: "node24",
  minify: true,
  // Effect's error messages and spans use names, not function names: minifying them is safe.
  legalComments: "none",
  logLevel: "warning",
  plugins: [lazyIntlPlugin, playwrightPlugin]
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
  // The CLI as two bundles, each with its V8 code cache, run by src/cli/binary.ts (the
  // executable's small main) only when needed: grid.cjs holds every subcommand; grid-daemon.cjs
  // only `grid daemon`'s. A script's source stays in the V8 heap for as long as any of its
  // functions lives, so a daemon running the whole CLI's bundle held all of it (the browser
  // engine's playwright-core, undici, the dashboard page: 6.7 MB) for its lifetime.
  // A daemon runs the built-in engine as `grid engine` (the whole CLI's bundle), never in its own
  // process (the wire's runners are process and docker; src/runner/InProcessBackend.ts says why),
  // so the in-process engine's modules are left out of its bundle: with the browser engine's
  // playwright-core and undici they were three quarters of it.
  const inProcessOnly = ["src/engine/Engine.ts", "src/engine/LoadSplit.ts", "src/engine/Cores.ts", "src/engine/browser/BrowserEntry.ts", "src/engine/WorkerPool.ts"]
  const bundles = [{ name: "grid.cjs", plugins: [] }, { name: "grid-daemon.cjs", plugins: [onlySubcommand("daemon", inProcessOnly)] }]
  const assets: Record<string, string> = {}
  for (const { name, plugins } of bundles) {
    const bundle = join(work, name)
    await build({
      ...common,
      format: "cjs",
      outfile: bundle,
      define: defines("binary"),
      plugins: [...common.plugins!, ...plugins],
      // import.meta is only read on the source/npm paths (self.ts checks isSea() first).
      logOverride: { "empty-import-meta": "silent" }
    })
    const text = asciiOnly(readFileSync(bundle, "utf8"))
    writeFileSync(bundle, text)
    // Its code cache, made by this same Node (V8 refuses a cache from another version or
    // flags), for exactly the source binary.ts compiles.
    const source = `(function (exports, require, module, __filename, __dirname) {${text}\n})`
    writeFileSync(`${bundle}.cache`, new Script(source, { filename: name }).createCachedData())
    assets[name] = bundle
    assets[`${name}.cache`] = `${bundle}.cache`
  }
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
      assets
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
