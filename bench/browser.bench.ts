// The browser engine (#17) against a bare playwright-core loop doing the same flow, in the
// same run, both driving Debian's chromium against a `grid target` process's /browser page:
// The bare loop does the same browser work as the engine, page metrics included (the same init
// script and read after the goto), so the ratio is grid's own cost, not the metrics'.
// 1. Iterations per CPU-second and per wall second, in a steady window of each run (from 35% of
//    its length to 1 s before its end: start-up and the browser's launch excluded), for a
//    three-step flow (goto, fill, click + waitFor the script-delayed result): `grid engine`
//    against the bare loop, same users, same users per browser, rounds interleaved; ratio
//    bound 0.9 on the medians. CPU is the process tree's (generator and Chromium processes):
//    utime+stime+cutime+cstime summed over its live processes (a closed context's renderer is
//    in its browser's cutime once reaped).
// 2. Memory per virtual user: the process tree's summed PSS (smaps_rollup), median of samples
//    every 2 s in the steady window, with USERS and 2 x USERS users (one browser):
//    (high - low) / USERS, for both.
// 3. The samples pipeline per step: the JTL writer's sink (what `grid engine` pays per step),
//    in ns per sample, set against the measured mean step time.
// The machine is shared with other engineers' tests: per-CPU figures are the steady ones.
// Env: BENCH_BROWSER_SECONDS (30), BENCH_BROWSER_ROUNDS (2), BENCH_BROWSER_USERS (4).
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { JtlWriter } from "../src/engine/JtlWriter.ts"
import { readVitalsScript, vitalsInitScript } from "../src/engine/browser/WebVitals.ts"

const root = join(import.meta.dirname, "..")
const node = join(root, "node_modules/.bin/node")
const gridMain = join(root, "src/cli/main.ts")
const seconds = Number(process.env.BENCH_BROWSER_SECONDS ?? 30)
const rounds = Number(process.env.BENCH_BROWSER_ROUNDS ?? 2)
const users = Number(process.env.BENCH_BROWSER_USERS ?? 4)
const work = mkdtempSync(join(tmpdir(), "grid-browser-bench-"))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
let failed = 0

const bareLoop = `
import { chromium } from ${JSON.stringify(join(root, "node_modules/playwright-core/index.mjs"))}
const [url, seconds, users] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: process.getuid() === 0 ? ["--no-sandbox"] : [], handleSIGINT: false })
let done = 0
const end = performance.now() + seconds * 1000
const user = async () => {
  while (performance.now() < end) {
    const context = await browser.newContext()
    await context.addInitScript({ content: ${JSON.stringify(vitalsInitScript)} })
    const page = await context.newPage()
    await page.goto(url + "/browser?delay=50", { waitUntil: "load" })
    await page.evaluate(${JSON.stringify(readVitalsScript)})
    await page.locator("#q").fill("grid")
    await page.locator("#go").click()
    await page.locator("#results").waitFor({ state: "visible" })
    await context.close()
    done++
    console.log("it", Date.now())
  }
}
await Promise.all(Array.from({ length: users }, user))
if (process.env.PSS_FILE) (await import("node:fs")).writeFileSync(process.env.PSS_FILE, "ready")
if (process.env.PSS_FILE) await new Promise((r) => setTimeout(r, 1500))
await browser.close()
console.log("iterations", done)
`
const barePath = join(work, "bare.mjs")
writeFileSync(barePath, bareLoop)

const scenario = (url: string, n: number) => {
  const file = join(work, `s-${n}.yaml`)
  writeFileSync(file, `target: ${url}
browser:
  usersPerBrowser: ${n}
  steps:
    - { name: home, goto: "/browser?delay=50" }
    - { name: search, fill: { selector: "#q", value: grid } }
    - { name: submit, click: "#go", waitFor: "#results" }
load: { model: closed, users: ${n}, durationSeconds: ${seconds} }
`)
  return file
}

/** The tree's PSS (kB) and CPU so far (seconds), summed over a process and its descendants. */
const treeStats = (pid: number): { pssKb: number; cpuSeconds: number } => {
  const parent = new Map<number, number>()
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8")
      parent.set(Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch { /* gone */ }
  }
  const inTree = (p: number) => {
    for (let q = p, n = 0; q > 1 && n < 30; q = parent.get(q) ?? 0, n++) if (q === pid) return true
    return false
  }
  let kb = 0
  let ticks = 0
  for (const p of parent.keys()) {
    if (!inTree(p)) continue
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8")
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
      kb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))?.[1] ?? 0)
    } catch { /* gone */ }
  }
  return { pssKb: kb, cpuSeconds: ticks / 100 }
}

interface Measured {
  readonly iterations: number
  readonly cpuSeconds: number
  readonly wallSeconds: number
  /** PSS of the tree near the end of the run (kB). */
  readonly pssKb: number
}

/** Runs argv; counts the iterations (`count(stdout, from, to)`, epoch ms) and the tree's CPU
 * in the steady window, and its PSS at the window's end. */
const measure = (argv: ReadonlyArray<string>, count: (stdout: string, from: number, to: number) => number): Promise<Measured> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout!.on("data", (d: Buffer) => (out += d))
    let first: { at: number; cpuSeconds: number } | undefined
    let last: { at: number; cpuSeconds: number; pssKb: number } | undefined
    // PSS every 2 s through the window, the median kept: how many contexts (each a renderer
    // process) are open at one instant varies between iterations.
    const pss: Array<number> = []
    let sampler: ReturnType<typeof setInterval> | undefined
    const t1 = setTimeout(() => {
      first = { at: Date.now(), cpuSeconds: treeStats(child.pid!).cpuSeconds }
      sampler = setInterval(() => pss.push(treeStats(child.pid!).pssKb), 2000)
    }, seconds * 350)
    const t2 = setTimeout(() => {
      clearInterval(sampler)
      const now = treeStats(child.pid!)
      pss.push(now.pssKb)
      last = { at: Date.now(), cpuSeconds: now.cpuSeconds, pssKb: median(pss) }
    }, (seconds - 1) * 1000)
    child.on("close", (code) => {
      clearTimeout(t1)
      clearTimeout(t2)
      clearInterval(sampler)
      if (code !== 0 || first === undefined || last === undefined) return reject(new Error(`${argv.join(" ")} exited ${code}: ${out.slice(-500)}`))
      resolve({
        iterations: count(out, first.at, last.at),
        cpuSeconds: last.cpuSeconds - first.cpuSeconds,
        wallSeconds: (last.at - first.at) / 1000,
        pssKb: last.pssKb
      })
    })
  })

const engine = (url: string, n: number) => {
  const jtl = join(work, `engine-${n}.jtl`)
  return measure([node, gridMain, "engine", scenario(url, n), "--results", jtl], (_, from, to) =>
    readFileSync(jtl, "utf8").split("\n").map((l) => l.split(",")).filter((f) => f[2] === "submit" && f[7] === "true")
      .filter((f) => Number(f[0]) + Number(f[1]) >= from && Number(f[0]) + Number(f[1]) < to).length)
}
const bare = (url: string, n: number) =>
  measure([node, barePath, url, String(seconds), String(n)], (out, from, to) =>
    [...out.matchAll(/^it (\d+)$/gm)].map((m) => Number(m[1])).filter((t) => t >= from && t < to).length)

const startTarget = async (): Promise<{ url: string; child: ChildProcess }> => {
  const child = spawn(node, [gridMain, "target", "--port", "0", "--host", "127.0.0.1"], { stdio: ["ignore", "pipe", "inherit"] })
  let out = ""
  child.stdout!.on("data", (d: Buffer) => (out += d))
  for (let i = 0; i < 200 && !/http:\/\/127\.0\.0\.1:\d+/.test(out); i++) await sleep(50)
  const url = /http:\/\/127\.0\.0\.1:\d+/.exec(out)?.[0]
  if (url === undefined) throw new Error(`grid target did not start: ${out}`)
  return { url, child }
}

const main = async () => {
  const target = await startTarget()
  try {
    console.log(`steady window: ${(seconds * 0.35).toFixed(0)} s to ${seconds - 1} s of each run; machine shared with other engineers' test runs; ${users} users, one browser, ${seconds} s per run, ${rounds} rounds`)
    const perCpu = { engine: [] as Array<number>, bare: [] as Array<number> }
    const perWall = { engine: [] as Array<number>, bare: [] as Array<number> }
    const pss = { engine: new Map<number, number>(), bare: new Map<number, number>() }
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 === 0 ? ["engine", "bare"] as const : ["bare", "engine"] as const) {
        const m = await (side === "engine" ? engine(target.url, users) : bare(target.url, users))
        perCpu[side].push(m.iterations / m.cpuSeconds)
        perWall[side].push(m.iterations / m.wallSeconds)
        pss[side].set(users, m.pssKb)
        console.log(`round ${r + 1} ${side.padEnd(6)} ${m.iterations} iterations in ${m.wallSeconds.toFixed(1)} s, ${(m.iterations / m.wallSeconds).toFixed(2)}/s, ${(m.iterations / m.cpuSeconds).toFixed(2)} per CPU-s (${m.cpuSeconds.toFixed(1)} CPU-s), tree PSS ${(m.pssKb / 1024).toFixed(0)} MB`)
      }
    }
    const ratio = median(perCpu.engine) / median(perCpu.bare)
    const ok = ratio >= 0.9
    if (!ok) failed++
    console.log(`${ok ? "ok  " : "MISS"} iterations per CPU-second, engine/bare: ${ratio.toFixed(2)} (bound >= 0.9); per wall second ${(median(perWall.engine) / median(perWall.bare)).toFixed(2)}`)

    // Memory per user: one more run per side with 2x the users (one browser each).
    const high = users * 2
    for (const side of ["engine", "bare"] as const) {
      const m = await (side === "engine" ? engine(target.url, high) : bare(target.url, high))
      pss[side].set(high, m.pssKb)
      const perUser = (m.pssKb - pss[side].get(users)!) / (high - users) / 1024
      console.log(`     memory per virtual user, ${side}: ${perUser.toFixed(1)} MB (tree PSS ${(pss[side].get(users)! / 1024).toFixed(0)} MB at ${users} users, ${(m.pssKb / 1024).toFixed(0)} MB at ${high})`)
    }

    // The samples pipeline: the JTL sink per step sample.
    const jtl = new JtlWriter(join(work, "pipe.jtl"))
    const n = 200_000
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      jtl.sink({ timestamp: Date.now(), label: "search", latencyMs: 12.5, success: true, status: "ok", bytesIn: 0, bytesOut: 0, error: undefined })
    }
    jtl.close()
    const nsPerSample = ((performance.now() - t0) * 1e6) / n
    console.log(`     samples pipeline: ${nsPerSample.toFixed(0)} ns per sample (JTL sink); an iteration makes 8 samples (3 steps, 5 page metrics)`)
    console.log(`     that is ${((nsPerSample * 8) / 1e6 / (users / median(perWall.engine)) * 100).toFixed(4)}% of an iteration's ${(users / median(perWall.engine) * 1000).toFixed(0)} ms per user`)
  } finally {
    target.child.kill("SIGTERM")
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
process.exit(failed === 0 ? 0 : 1)
