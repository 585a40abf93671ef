// Built-in engine throughput, latency and memory against peers measured in the same run:
// Debian's nginx-light (one worker, access_log off, keepalive_requests raised) pinned to
// core 0 serves a 12-byte body on a free loopback port; each generator is pinned to core 1
// with the same connection count (50, no pipelining) for the same duration: wrk (the
// native ceiling), autocannon 9, `grid run` with the lean client, and `grid run` with the
// undici client (the measurement behind the lean path). Then a moderate-load latency
// comparison against wrk (every connection pausing 10 ms between requests, wrk through a
// Lua `delay`, grid through `thinkTimeMs`), and the engine's RSS over a long run.
// Env: BENCH_SECONDS (5), BENCH_ROUNDS (2), BENCH_RSS_SECONDS (60).
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, connect } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 2)
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

const freePort = () =>
  new Promise<number>((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port
      s.close(() => ok(p))
    })
  })

const waitPort = async (port: number) => {
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((ok) => {
      const s = connect(port, "127.0.0.1", () => (s.destroy(), ok(true)))
      s.on("error", () => ok(false))
    })
    if (up) return
    await new Promise((ok) => setTimeout(ok, 50))
  }
  throw new Error(`nothing listens on ${port}`)
}

const startNginx = async (): Promise<{ url: string; proc: ChildProcess }> => {
  const port = await freePort()
  const dir = join(work, "nginx")
  mkdirSync(join(dir, "logs"), { recursive: true })
  writeFileSync(join(dir, "nginx.conf"), `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 "hello world\\n"; }
  }
}
`)
  const proc = spawn("taskset", ["-c", "0", "nginx", "-p", dir, "-c", join(dir, "nginx.conf")], { stdio: "ignore" })
  await waitPort(port)
  return { url: `http://127.0.0.1:${port}`, proc }
}

const run = (cmd: string, args: Array<string>): string => {
  const r = spawnSync("taskset", ["-c", "1", cmd, ...args], { encoding: "utf8", maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`)
  return r.stdout
}

interface Result {
  readonly rps: number
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
  const out = run("wrk", ["-t1", `-c${conns}`, `-d${seconds}s`, "-s", wrkScript(delayMs), url])
  const m = /GRID (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out)
  if (m === null) throw new Error(`unexpected wrk output: ${out}`)
  const [, reqs, durUs, p50, p90, p99] = m.map(Number) as [number, number, number, number, number, number]
  return { rps: reqs / (durUs / 1e6), p50: p50 / 1000, p90: p90 / 1000, p99: p99 / 1000 }
}

const autocannon = (url: string): Result => {
  const out = run(node, [join(root, "node_modules", "autocannon", "autocannon.js"), "-c", String(connections), "-d", String(seconds), "-j", url])
  const j = JSON.parse(out)
  return { rps: j.requests.total / (j.duration ?? seconds), p50: j.latency.p50, p90: j.latency.p90, p99: j.latency.p99 }
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
  run(node, [join(root, "src", "cli", "main.ts"), "run", scenario, "--out", out])
  const s = JSON.parse(readFileSync(out, "utf8"))
  return { rps: s.total.rps, p50: s.total.latencyMs.p50, p90: s.total.latencyMs.p90, p99: s.total.latencyMs.p99 }
}

/** RSS (MB) of the engine process every 5 s over a long run. */
const rssSeries = async (url: string): Promise<Array<number>> => {
  const scenario = join(work, "scenario-rss.json")
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
const line = (name: string, r: Result) => console.log(`${name.padEnd(22)}${f(r.rps)} req/s   p50 ${f(r.p50, 3)} ms  p90 ${f(r.p90, 3)} ms  p99 ${f(r.p99, 3)} ms`)
const best = (rs: Array<Result>) => rs.reduce((a, b) => (b.rps > a.rps ? b : a))

const nginx = await startNginx()
try {
  console.log(`nginx-light (1 worker, core 0) at ${nginx.url}; generators on core 1, ${connections} connections, ${seconds} s, best of ${rounds}`)
  const results: Record<string, Array<Result>> = { wrk: [], autocannon: [], "grid (lean)": [], "grid (undici)": [] }
  for (let i = 0; i < rounds; i++) {
    results["wrk"]!.push(wrk(nginx.url))
    results["autocannon"]!.push(autocannon(nginx.url))
    results["grid (lean)"]!.push(gridRun(nginx.url, "lean"))
    results["grid (undici)"]!.push(gridRun(nginx.url, "undici"))
  }
  console.log("\nthroughput (closed loop, no think time):")
  for (const [name, rs] of Object.entries(results)) line(name, best(rs))
  const ratio = best(results["grid (lean)"]!).rps / best(results["autocannon"]!).rps
  console.log(`\nengine/autocannon  ${ratio.toFixed(2)}  (goal >= 1.00: ${ratio >= 1 ? "met" : "MISSED"})`)
  console.log(`engine/wrk         ${(best(results["grid (lean)"]!).rps / best(results["wrk"]!).rps).toFixed(2)}  (wrk: native ceiling)`)
  console.log(`undici/lean        ${(best(results["grid (undici)"]!).rps / best(results["grid (lean)"]!).rps).toFixed(2)}`)

  console.log("\nmoderate load (each connection pauses 10 ms between requests):")
  const w = wrk(nginx.url, 10)
  const g = gridRun(nginx.url, "lean", 10)
  line("wrk", w)
  line("grid (lean)", g)
  for (const p of ["p50", "p90", "p99"] as const) {
    const dev = (g[p] - w[p]) / w[p]
    console.log(`  ${p} grid/wrk ${(g[p] / w[p]).toFixed(2)} (${dev >= 0 ? "+" : ""}${(dev * 100).toFixed(0)}%, goal within 10%: ${Math.abs(dev) <= 0.1 ? "met" : "MISSED"})`)
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
