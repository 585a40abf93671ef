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
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { runPinned as run, startNginx } from "./nginx.ts"

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

const nginx = await startNginx({
  dir: join(work, "nginx"),
  core: 0,
  locations: `
    location = /login { default_type application/json; return 200 '{"ok":true,"user":"bench","token":"4f6c1e0b9a7d2c35e8f1"}'; }
    location = /cart { default_type application/json; return 200 '{"ok":true,"items":[]}'; }`
})
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
