// User flows (issue 20) cost against peers in the same run, on the setup of engine.bench.ts:
// Debian's nginx-light (one worker, access_log off) pinned to core 0, generators pinned to
// core 1, 50 connections, no pipelining. Measured, interleaved, median of BENCH_ROUNDS (3)
// rounds of BENCH_SECONDS (5):
//   - autocannon 9 and `grid run` on one plain GET (cookie jar on, as by default; nothing to
//     capture or check): goal >= 1.0x autocannon, today's speed kept;
//   - a two-request flow (GET /login answering a small JSON with a token, then GET /cart with
//     `Authorization: Bearer <token>`) with a static header, and the same flow taking the
//     token with a JSON capture and sending it through `${token}`: goal >= 0.7x.
// Requests per CPU-second of the generator are printed too: the steadier figure on a shared machine.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { connect, createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const connections = 50
const node = process.execPath
const work = mkdtempSync(join(tmpdir(), "grid-flows-bench-"))

for (const c of ["nginx", "taskset"]) {
  if (spawnSync("which", [c]).status !== 0) {
    console.error(`missing ${c}: apt-get install -y nginx-light (and util-linux for taskset)`)
    process.exit(1)
  }
}

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
    location = /login { default_type application/json; return 200 '{"ok":true,"user":"bench","token":"4f6c1e0b9a7d2c35e8f1"}'; }
    location = /cart { default_type application/json; return 200 '{"ok":true,"items":[]}'; }
  }
}
`)
  const proc = spawn("taskset", ["-c", "0", "nginx", "-p", dir, "-c", join(dir, "nginx.conf")], { stdio: "ignore" })
  await waitPort(port)
  return { url: `http://127.0.0.1:${port}`, proc }
}

/** Runs `cmd` pinned to core 1; also returns the CPU it used (user + system, s) from bash's `times`. */
const run = (cmd: string, args: Array<string>): { stdout: string; cpu: number } => {
  const r = spawnSync("bash", ["-c", `"$@" && times >&2`, "bash", "taskset", "-c", "1", cmd, ...args], { encoding: "utf8", maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`)
  const t = [...r.stderr.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].at(-1)
  const cpu = t === undefined ? Number.NaN : Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4])
  return { stdout: r.stdout, cpu }
}

interface Result {
  readonly rps: number
  readonly perCpu: number
  readonly errors: number
}

const autocannonJs = join(root, "node_modules", "autocannon", "autocannon.js")
let autocannonStartCpu: number | undefined
const autocannon = (url: string): Result => {
  autocannonStartCpu ??= run(node, [autocannonJs, "-c", "1", "-a", "1", "-j", url]).cpu
  const { stdout, cpu } = run(node, [autocannonJs, "-c", String(connections), "-d", String(seconds), "-j", url])
  const j = JSON.parse(stdout)
  return { rps: j.requests.total / (j.duration ?? seconds), perCpu: j.requests.total / Math.max(0.001, cpu - autocannonStartCpu), errors: j.errors + j.non2xx }
}

const gridRun = (name: string, url: string, requests: Array<unknown>): Result => {
  const scenario = join(work, `scenario-${name}.json`)
  const out = join(work, `summary-${name}.json`)
  writeFileSync(scenario, JSON.stringify({ target: url, requests, load: { model: "closed", users: connections, durationSeconds: seconds } }))
  run(node, [join(root, "src", "cli", "main.ts"), "run", scenario, "--out", out])
  const s = JSON.parse(readFileSync(out, "utf8"))
  return { rps: s.total.rps, perCpu: s.total.count / (s.generatorCpuMs / 1000), errors: s.total.errors }
}

const token = "4f6c1e0b9a7d2c35e8f1"
const scenarios: Record<string, Array<unknown>> = {
  "grid plain GET": [{ name: "get", path: "/" }],
  "grid flow, static": [
    { name: "login", path: "/login" },
    { name: "cart", path: "/cart", headers: { authorization: `Bearer ${token}` } }
  ],
  "grid flow, capture": [
    { name: "login", path: "/login", capture: { token: { json: "$.token" } } },
    { name: "cart", path: "/cart", headers: { authorization: "Bearer ${token}" } }
  ]
}

const nginx = await startNginx()
try {
  console.log(`nginx-light (1 worker, core 0) at ${nginx.url}; generators on core 1, ${connections} connections, ${seconds} s, median of ${rounds}`)
  const results: Record<string, Array<Result>> = { autocannon: [], ...Object.fromEntries(Object.keys(scenarios).map((k) => [k, []])) }
  for (let i = 0; i < rounds; i++) {
    results.autocannon!.push(autocannon(nginx.url))
    for (const [name, requests] of Object.entries(scenarios)) results[name]!.push(gridRun(name.replace(/\W+/g, "-"), nginx.url, requests))
  }
  const med = (name: string, k: "rps" | "perCpu") => {
    const xs = results[name]!.map((r) => r[k]).sort((a, b) => a - b)
    return xs[Math.floor((xs.length - 1) / 2)]!
  }
  for (const [name, rs] of Object.entries(results)) {
    console.log(`${name.padEnd(22)}${med(name, "rps").toFixed(0).padStart(9)} req/s ${med(name, "perCpu").toFixed(0).padStart(9)} req/CPU-s   rounds: ${rs.map((r) => r.rps.toFixed(0)).join(" ")}   errors: ${rs.map((r) => r.errors).join(" ")}`)
  }
  const ratio = (a: string, b: string, goal: number, what: string) => {
    const r = med(a, "rps") / med(b, "rps")
    const c = med(a, "perCpu") / med(b, "perCpu")
    console.log(`${what.padEnd(34)} ${r.toFixed(2)} req/s  ${c.toFixed(2)} per CPU  (goal >= ${goal.toFixed(2)}: ${r >= goal ? "met" : "MISSED"} on req/s, ${c >= goal ? "met" : "MISSED"} per CPU)`)
  }
  console.log("")
  ratio("grid plain GET", "autocannon", 1, "plain GET / autocannon")
  ratio("grid flow, capture", "grid flow, static", 0.7, "flow with capture / without")
} finally {
  nginx.proc.kill("SIGTERM")
  await new Promise((ok) => nginx.proc.on("close", ok))
  rmSync(work, { recursive: true, force: true })
}
