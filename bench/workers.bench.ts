// Engine workers (#19): how a node's capacity grows with its cores, measured in one run.
// 0. The split's own cost: nginx alone on core 0 and the whole generator on core 1, 1 worker
//    against 2 workers sharing that core (same users): requests per CPU-second, goal >= 0.9.
// 1. The scaling curve up to the cores this machine has: `grid run --workers k` for k = 1..cores
//    (50 users per worker) against Debian's nginx-light (one worker process per core), each in
//    req/s and in requests per CPU-second of the generator (the node's process and its workers,
//    from the common start), the figure that holds when other work shares the machine. On a
//    machine with few cores nginx shares them with the generator, so this curve also measures
//    contention; (0) is the split's cost alone.
// 2. Processes against worker_threads (bench/workerThread.ts: the same engine, split, windows and
//    row merging, each worker a thread), same users and duration, interleaved rounds.
// 3. `--cpu-affinity` (taskset, worker i on core i) against the scheduler's own placement.
// 4. Exact totals: with 2 workers against `grid target` (which counts what it served), the
//    summary's count equals the target's for a closed run, an open run and a staged ramp.
// The one-worker comparison against autocannon and wrk is bench/engine.bench.ts's (pinned cores).
// Env: BENCH_SECONDS (8: long enough that each process's JIT warm-up is small), BENCH_ROUNDS (3).
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, startNginx, waitPort } from "./nginx.ts"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const main = join(root, "src", "cli", "main.ts")
const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const cores = availableParallelism()
const usersPerWorker = 50
const node = process.execPath
const work = mkdtempSync(join(tmpdir(), "grid-workers-bench-"))

for (const c of ["nginx", "taskset"]) {
  if (spawnSync("which", [c]).status !== 0) {
    console.error(`missing ${c}: apt-get install -y nginx-light util-linux`)
    process.exit(1)
  }
}

/** nginx-light with `workers` processes, all on `core` when given. */
const nginxOf = (workers: number, core?: number) =>
  startNginx({ dir: join(work, `nginx-${workers}-${core ?? "any"}`), workers, workerConnections: 8192, ...(core === undefined ? {} : { core }) })

interface Result {
  readonly rps: number
  readonly perCpu: number
  readonly count: number
  /** Open model: arrivals that found no free connection (counted as errors, never sent). */
  readonly dropped: number
}

const scenarioFile = (name: string, body: Record<string, unknown>) => {
  const file = join(work, `${name}.json`)
  writeFileSync(file, JSON.stringify(body))
  return file
}

/** `grid run` with `k` workers; its summary's count and generator CPU (node + workers).
 * `core`: the whole generator (node and workers) pinned to that core. */
const gridRun = (url: string, k: number, extra: Array<string> = [], body?: Record<string, unknown>, core?: number): Result => {
  const file = scenarioFile(`run-${k}`, body ?? { target: url, requests: [{ name: "get", path: "/" }], load: { model: "closed", users: usersPerWorker * k, durationSeconds: seconds } })
  const out = join(work, `summary-${k}.json`)
  const argv = [node, main, "run", file, "--workers", String(k), "--out", out, ...extra]
  const r = core === undefined
    ? spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", maxBuffer: 64 << 20 })
    : spawnSync("taskset", ["-c", String(core), ...argv], { encoding: "utf8", maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`grid run --workers ${k} failed (${r.status}): ${r.stderr}`)
  const s = JSON.parse(readFileSync(out, "utf8"))
  const load = (body?.load ?? {}) as { durationSeconds?: number }
  // req/s over the load's own duration: the workers' start-up is not part of it.
  return {
    rps: s.total.count / (load.durationSeconds ?? seconds),
    perCpu: s.total.count / (s.generatorCpuMs / 1000),
    count: s.total.count,
    dropped: s.total.status?.dropped ?? 0
  }
}

/** The same load with worker_threads instead of processes. */
const threads = (url: string, k: number): Result => {
  const file = scenarioFile(`threads-${k}`, { target: url, requests: [{ name: "get", path: "/" }], load: { model: "closed", users: usersPerWorker * k, durationSeconds: seconds } })
  const r = spawnSync(node, [join(root, "bench", "workerThread.ts"), file, String(k)], { encoding: "utf8", maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`worker threads failed (${r.status}): ${r.stderr}`)
  const j = JSON.parse(r.stdout.trim().split("\n").at(-1)!)
  return { rps: j.count / seconds, perCpu: j.count / (j.cpuMs / 1000), count: j.count, dropped: 0 }
}

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!
const f = (n: number, d = 0) => n.toFixed(d).padStart(9)
const row = (name: string, rs: Array<Result>) =>
  console.log(`${name.padEnd(28)}${f(median(rs.map((r) => r.rps)))} req/s ${f(median(rs.map((r) => r.perCpu)))} req/CPU-s   rounds: ${rs.map((r) => r.perCpu.toFixed(0)).join(" ")}`)

const nginx = await nginxOf(cores)
const pinnedNginx = await nginxOf(1, 0)
let exactOk = true
try {
  const load = spawnSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).stdout.trim()
  console.log(`${cores} cores; nginx-light with ${cores} workers at ${nginx.url}; ${usersPerWorker} users per engine worker, ${seconds} s, median of ${rounds}; load average at start: ${load}`)
  const curve: Record<number, Array<Result>> = {}
  const threaded: Array<Result> = []
  const pinned: Array<Result> = []
  const oneCore: Record<number, Array<Result>> = { 1: [], 2: [] }
  const top = Math.max(2, cores)
  for (let i = 0; i < rounds; i++) {
    // The split's own cost, without core contention: nginx alone on core 0, the generator
    // (1 worker, or 2 workers sharing it) on core 1, the same 50 users.
    for (const k of [1, 2]) {
      oneCore[k]!.push(gridRun(pinnedNginx.url, k, [], { target: pinnedNginx.url, requests: [{ name: "get", path: "/" }], load: { model: "closed", users: usersPerWorker, durationSeconds: seconds } }, 1))
    }
    for (let k = 1; k <= top; k++) (curve[k] ??= []).push(gridRun(nginx.url, k))
    threaded.push(threads(nginx.url, 2))
    pinned.push(gridRun(nginx.url, 2, ["--cpu-affinity"]))
  }
  console.log(`\nthe split's cost (nginx on core 0, the generator on core 1, ${usersPerWorker} users):`)
  row("1 worker", oneCore[1]!)
  row("2 workers sharing core 1", oneCore[2]!)
  console.log("\nscaling curve (grid run --workers k, processes):")
  for (let k = 1; k <= top; k++) row(`${k} worker${k > 1 ? "s" : ""}${k > cores ? " (more than the cores)" : ""}`, curve[k]!)
  console.log("\n2 workers as worker_threads / with --cpu-affinity:")
  row("worker_threads (2)", threaded)
  row("processes, --cpu-affinity (2)", pinned)
  const per = (rs: Array<Result>) => median(rs.map((r) => r.perCpu))
  const split = per(oneCore[2]!) / per(oneCore[1]!)
  console.log(`\n                                   req/CPU-s ratio`)
  console.log(`2 workers / 1 worker, one core     ${split.toFixed(2)}   (goal >= 0.90: ${split >= 0.9 ? "met" : "MISSED"})`)
  console.log(`2 workers / 1 worker, unpinned     ${(per(curve[2]!) / per(curve[1]!)).toFixed(2)}   (nginx and the generator share the cores)`)
  for (let k = 3; k <= top; k++) console.log(`${k} workers / 1 worker               ${(per(curve[k]!) / per(curve[1]!)).toFixed(2)}`)
  console.log(`processes / worker_threads (2)     ${(per(curve[2]!) / per(threaded)).toFixed(2)}   (req/s ${(median(curve[2]!.map((r) => r.rps)) / median(threaded.map((r) => r.rps))).toFixed(2)})`)
  console.log(`--cpu-affinity / scheduler (2)     ${(per(pinned) / per(curve[2]!)).toFixed(2)}   (req/s ${(median(pinned.map((r) => r.rps)) / median(curve[2]!.map((r) => r.rps))).toFixed(2)})`)
} finally {
  for (const n of [nginx, pinnedNginx]) {
    n.proc.kill("SIGTERM")
    await new Promise((ok) => n.proc.on("close", ok))
  }
}

// Exact totals against grid target, which counts every request it served per path.
const port = await freePort()
const target = spawn(node, [main, "target", "--port", String(port)], { stdio: "ignore" })
try {
  await waitPort(port, 200)
  const url = `http://127.0.0.1:${port}`
  // A new connection each time: a kept-alive one may be closed by the target in between.
  const served = async (path: string) =>
    ((await (await fetch(`${url}/__stats`, { keepalive: false, headers: { connection: "close" } })).json()) as { paths: Record<string, number> }).paths[path] ?? 0
  console.log("\nexact totals, 2 workers against grid target (summary count less dropped arrivals = requests the target served):")
  const cases: Array<[string, Record<string, unknown>]> = [
    ["closed", { model: "closed", users: 20, durationSeconds: 3 }],
    ["open", { model: "open", rate: 500, durationSeconds: 3, maxConnections: 400 }],
    ["staged ramp", { model: "closed", stages: [{ durationSeconds: 1.5, users: 30 }, { durationSeconds: 1.5, users: 5 }] }]
  ]
  for (const [name, load] of cases) {
    const path = `/${name.replace(/\s/g, "-")}`
    const r = gridRun(url, 2, [], { target: url, requests: [{ name, path }], load })
    const t = await served(path)
    const ok = r.count - r.dropped === t && t > 0
    exactOk &&= ok
    const drops = r.dropped > 0 ? ` (${r.dropped} dropped: no free connection)` : ""
    console.log(`  ${name.padEnd(12)} summary ${String(r.count).padStart(7)}${drops}  target ${String(t).padStart(7)}  ${ok ? "equal" : "DIFFERENT"}`)
  }
} finally {
  target.kill("SIGTERM")
  await new Promise((ok) => target.on("close", ok))
  rmSync(work, { recursive: true, force: true })
}
if (!exactOk) process.exit(1)
