// Built-in engine throughput, latency and memory against peers measured in the same run:
// Debian's nginx-light (one worker, access_log off, keepalive_requests raised) pinned to
// core 0 serves a 12-byte body on a free loopback port; each generator is pinned to core 1
// with the same connection count (50, no pipelining) for the same duration: wrk (the
// native ceiling), autocannon 9, `grid run` on the lean client, `grid run` on undici, and a
// bare undici Pool.request loop (the last two are the measurement behind the lean path).
// Each is reported in req/s and in requests per CPU-second of the generator, the figure
// that stays stable when other work shares the machine.
// Then latency at moderate load against wrk (every connection pausing 10 ms between
// requests: wrk through a Lua `delay`, grid through `thinkTimeMs`), and the engine's RSS
// over a long run. The latency goal is checked against `grid target --latency 5` (pinned
// to core 0); against nginx's ~0.1 ms answers the comparison measures the generators' own
// event-loop time (Node's per-response JS against wrk's C), printed too but not a
// measurement bias of the kind the goal is about.
// Throughput rounds are interleaved (wrk, autocannon, lean, undici, loop, repeat) and the
// median of each is compared. Env: BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_RSS_SECONDS (60).
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, runPinned as run, startNginx, waitPort } from "./nginx.ts"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const rssSeconds = Number(process.env.BENCH_RSS_SECONDS ?? 60)
const connections = 50
const node = process.execPath
const work = mkdtempSync(join(tmpdir(), "grid-engine-bench-"))

const need = (cmd: string) => {
  if (spawnSync("which", [cmd]).status !== 0) {
    console.error(`missing ${cmd}: apt-get install -y nginx-light wrk (and util-linux for taskset)`)
    process.exit(1)
  }
}
for (const c of ["nginx", "wrk", "taskset"]) need(c)

interface Result {
  readonly rps: number
  /** Requests per CPU-second of the generator: stable on a shared machine, where req/s is not. */
  readonly perCpu: number
  /** Latency percentiles in ms. */
  readonly p50: number
  readonly p90: number
  readonly p99: number
}

const wrkScript = (delayMs: number) => {
  const file = join(work, `wrk-${delayMs}.lua`)
  writeFileSync(file, `${delayMs > 0 ? `function delay() return ${delayMs} end\n` : ""}done = function(summary, latency, requests)
  io.write(string.format("GRID %d %d %d %d %d\\n", summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
`)
  return file
}

const wrk = (url: string, delayMs = 0, conns = connections): Result => {
  const { stdout: out, cpu } = run("wrk", ["-t1", `-c${conns}`, `-d${seconds}s`, "-s", wrkScript(delayMs), url])
  const m = /GRID (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out)
  if (m === null) throw new Error(`unexpected wrk output: ${out}`)
  const [, reqs, durUs, p50, p90, p99] = m.map(Number) as [number, number, number, number, number, number]
  return { rps: reqs / (durUs / 1e6), perCpu: reqs / cpu, p50: p50 / 1000, p90: p90 / 1000, p99: p99 / 1000 }
}

const autocannonJs = join(root, "node_modules", "autocannon", "autocannon.js")
let autocannonStartCpu: number | undefined
const autocannon = (url: string): Result => {
  // Its start-up and shut-down CPU (one request), taken off so only the load counts, as for grid.
  autocannonStartCpu ??= run(node, [autocannonJs, "-c", "1", "-a", "1", "-j", url]).cpu
  const { stdout: out, cpu } = run(node, [autocannonJs, "-c", String(connections), "-d", String(seconds), "-j", url])
  const j = JSON.parse(out)
  return {
    rps: j.requests.total / (j.duration ?? seconds),
    perCpu: j.requests.total / Math.max(0.001, cpu - autocannonStartCpu),
    p50: j.latency.p50,
    p90: j.latency.p90,
    p99: j.latency.p99
  }
}

/** A bare undici `Pool.request` loop (no engine around it): undici's own ceiling here. */
const undiciLoop = (url: string): Result => {
  const script = join(work, "undici-loop.mjs")
  writeFileSync(script, `import { Pool } from ${JSON.stringify(join(root, "node_modules", "undici", "index.js"))}
const pool = new Pool(${JSON.stringify(url)}, { connections: ${connections}, pipelining: 1 })
let count = 0, stop = false
const cpu0 = process.cpuUsage(), t0 = performance.now()
const loop = () => { if (stop) return; pool.request({ path: "/", method: "GET" }).then((r) => { r.body.on("data", () => {}); r.body.on("end", () => { count++; loop() }) }, () => {}) }
for (let i = 0; i < ${connections}; i++) loop()
setTimeout(() => { stop = true; const c = process.cpuUsage(cpu0); console.log(JSON.stringify({ count, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 })); process.exit(0) }, ${seconds * 1000})
`)
  const j = JSON.parse(run(node, [script]).stdout)
  return { rps: j.count / (j.ms / 1000), perCpu: j.count / (j.cpuMs / 1000), p50: Number.NaN, p90: Number.NaN, p99: Number.NaN }
}

const gridRun = (url: string, client: "lean" | "undici", thinkTimeMs = 0, durationSeconds = seconds, conns = connections): Result => {
  const scenario = join(work, `scenario-${client}-${thinkTimeMs}.json`)
  const out = join(work, `summary-${client}-${thinkTimeMs}.json`)
  writeFileSync(scenario, JSON.stringify({
    target: url,
    client,
    requests: [{ name: "get", path: "/", ...(thinkTimeMs > 0 ? { thinkTimeMs } : {}) }],
    load: { model: "closed", users: conns, durationSeconds }
  }))
  // One engine worker, in grid run's own process (pinned to core 1 it would be one anyway).
  run(node, [join(root, "src", "cli", "main.ts"), "run", scenario, "--out", out, "--workers", "1"])
  const s = JSON.parse(readFileSync(out, "utf8"))
  // CPU during the run itself, as grid reports it (start-up excluded, like autocannon's).
  return {
    rps: s.total.rps,
    perCpu: s.total.count / (s.generatorCpuMs / 1000),
    p50: s.total.latencyMs.p50,
    p90: s.total.latencyMs.p90,
    p99: s.total.latencyMs.p99
  }
}

/** RSS (MB) of the engine process every 5 s over a long run. */
const rssSeries = async (url: string): Promise<Array<number>> => {
  const scenario = join(work, "scenario-rss.json")
  // Pinned like the rest; RSS includes the whole CLI's modules (~175 MB before the first request).
  writeFileSync(scenario, JSON.stringify({ target: url, requests: [{ name: "get", path: "/" }], load: { model: "closed", users: connections, durationSeconds: rssSeconds } }))
  const child = spawn("taskset", ["-c", "1", node, join(root, "src", "cli", "main.ts"), "run", scenario], { stdio: "ignore" })
  const series: Array<number> = []
  const timer = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8")
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
      if (kb > 0) series.push(Math.round(kb / 1024))
    } catch {
      // exited
    }
  }, 5000)
  await new Promise((ok) => child.on("close", ok))
  clearInterval(timer)
  return series
}

const f = (n: number, d = 0) => n.toFixed(d).padStart(9)
const line = (name: string, r: Result) => console.log(`${name.padEnd(22)}${f(r.rps)} req/s ${f(r.perCpu)} req/CPU-s   p50 ${f(r.p50, 3)} ms  p90 ${f(r.p90, 3)} ms  p99 ${f(r.p99, 3)} ms`)
const median = (rs: Array<Result>) => [...rs].sort((a, b) => a.rps - b.rps)[Math.floor((rs.length - 1) / 2)]!

const startGridTarget = async (latencyMs: number): Promise<{ url: string; proc: ChildProcess }> => {
  const port = await freePort()
  const proc = spawn("taskset", ["-c", "0", node, join(root, "src", "cli", "main.ts"), "target", "--port", String(port), "--latency", String(latencyMs)], { stdio: "ignore" })
  await waitPort(port)
  return { url: `http://127.0.0.1:${port}`, proc }
}

const compare = (w: Result, g: Result, check: boolean) => {
  for (const p of ["p50", "p90", "p99"] as const) {
    const dev = (g[p] - w[p]) / w[p]
    const verdict = check ? `, goal within 10%: ${Math.abs(dev) <= 0.1 ? "met" : "MISSED"}` : ""
    console.log(`  ${p} grid/wrk ${(g[p] / w[p]).toFixed(2)} (${dev >= 0 ? "+" : ""}${(dev * 100).toFixed(0)}%${verdict})`)
  }
}

const nginx = await startNginx({ dir: join(work, "nginx"), core: 0 })
try {
  console.log(`nginx-light (1 worker, core 0) at ${nginx.url}; generators on core 1, ${connections} connections, ${seconds} s, median of ${rounds}`)
  const results: Record<string, Array<Result>> = { wrk: [], autocannon: [], "grid (lean)": [], "grid (undici)": [], "undici Pool loop": [] }
  for (let i = 0; i < rounds; i++) {
    results["wrk"]!.push(wrk(nginx.url))
    results["autocannon"]!.push(autocannon(nginx.url))
    results["grid (lean)"]!.push(gridRun(nginx.url, "lean"))
    results["grid (undici)"]!.push(gridRun(nginx.url, "undici"))
    results["undici Pool loop"]!.push(undiciLoop(nginx.url))
  }
  console.log("\nthroughput (closed loop, no think time):")
  for (const [name, rs] of Object.entries(results)) {
    line(name, median(rs))
    console.log(`${"".padEnd(22)}rounds: ${rs.map((r) => r.rps.toFixed(0)).join(" ")}`)
  }
  const m = (name: string, k: "rps" | "perCpu") => {
    const xs = results[name]!.map((r) => r[k]).sort((a, b) => a - b)
    return xs[Math.floor((xs.length - 1) / 2)]!
  }
  const ratios = (a: string, b: string) => [m(a, "rps") / m(b, "rps"), m(a, "perCpu") / m(b, "perCpu")] as const
  const [ac, acCpu] = ratios("grid (lean)", "autocannon")
  console.log(`\n                   req/s   req/CPU-s`)
  console.log(`engine/autocannon  ${ac.toFixed(2)}    ${acCpu.toFixed(2)}   (goal >= 1.00: ${ac >= 1 ? "met" : "MISSED"} on req/s, ${acCpu >= 1 ? "met" : "MISSED"} per CPU)`)
  const [wr, wrCpu] = ratios("grid (lean)", "wrk")
  console.log(`engine/wrk         ${wr.toFixed(2)}    ${wrCpu.toFixed(2)}   (wrk: the native ceiling)`)
  const [un, unCpu] = ratios("grid (undici)", "grid (lean)")
  console.log(`undici/lean        ${un.toFixed(2)}    ${unCpu.toFixed(2)}   (the engine on undici's Pool.request)`)
  const [ul, ulCpu] = ratios("undici Pool loop", "grid (lean)")
  console.log(`bare undici/lean   ${ul.toFixed(2)}    ${ulCpu.toFixed(2)}   (a bare Pool.request loop, no engine)`)

  console.log("\nmoderate load against nginx (each connection pauses 10 ms between requests):")
  const w = wrk(nginx.url, 10)
  const g = gridRun(nginx.url, "lean", 10)
  line("wrk", w)
  line("grid (lean)", g)
  compare(w, g, false)

  const slow = await startGridTarget(5)
  try {
    console.log(`\nmoderate load against grid target --latency 5 (core 0), 10 ms pause per connection:`)
    const w5 = wrk(slow.url, 10)
    const g5 = gridRun(slow.url, "lean", 10)
    line("wrk", w5)
    line("grid (lean)", g5)
    compare(w5, g5, true)
  } finally {
    slow.proc.kill("SIGTERM")
    await new Promise((ok) => slow.proc.on("close", ok))
  }

  if (rssSeconds > 0) {
    console.log(`\nRSS of grid run over ${rssSeconds} s at full speed (MB, every 5 s):`)
    const rss = await rssSeries(nginx.url)
    console.log(`  ${rss.join(" ")}`)
    if (rss.length >= 3) {
      const settled = rss[1]!
      const last = rss[rss.length - 1]!
      console.log(`  after warm-up ${settled} MB, at the end ${last} MB (${last - settled >= 0 ? "+" : ""}${last - settled} MB)`)
    }
  }
} finally {
  nginx.proc.kill("SIGTERM")
  await new Promise((ok) => nginx.proc.on("close", ok))
  rmSync(work, { recursive: true, force: true })
}
