// Start-up and footprint of the shipped forms (issue 11), whole processes, against peers of the
// same Node (node_modules/.bin/node) measured in the same run, medians:
// 1. `dist/grid --version` wall time and peak RSS against a bare `node -e 0`; the same for the
//    npm-installed `grid --version` (the package packed and installed into a temp prefix).
// 2. Idle daemon RSS after 30 s (connected, heartbeating): dist/grid and the npm-installed grid
//    against a bare `setInterval` process, three of each side by side.
// Before 1 and 2, both executables (node and dist/grid) are dropped from the page cache (dd
// iflag=nocache; pages other processes have mapped stay): a file's pages count in the RSS of
// every process that maps them, and how many get mapped around each page a process touches
// depends on how they sit in the cache (measured on this machine, same bytes: `dist/grid
// --version` peaked at 63.8 or 42.0 MiB, an idle daemon held ~20 MB more or less), so both sides
// start from the same state: read back from disk, as after a reboot.
// 3. Start-to-ready: dist/grid daemon start to its first heartbeat in the KV bucket, p50 of 10.
// 4. Publish of a `start` to the tool's first instruction (`touch`, whose mtime stamps it),
//    p50 and p95 over 20, through dist/grid daemon.
// 5. Binary size; built-in engine throughput (`grid engine`, 3 s closed model against
//    `grid target`, requests per CPU-second of the engine, the figure two busy cores keep
//    stable) and `grid report` time on a 300k-sample JTL, binary against npm install.
// Prints each figure with its bound and exits non-zero when a bound is missed.
// Env: BENCH_IDLE_SECONDS (30), BENCH_RUNS (15).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { gridClient } from "../test/support/gridClient.ts"
import { startNatsServer } from "../test/support/natsServer.ts"

const root = join(import.meta.dirname, "..")
const node = join(root, "node_modules/.bin/node")
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 30)
const runs = Number(process.env.BENCH_RUNS ?? 15)
const work = mkdtempSync(join(tmpdir(), "grid-startup-bench-"))
const grid = join(root, "dist/grid")
let failed = 0

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const pct = (xs: ReadonlyArray<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const check = (what: string, value: string, ok: boolean, bound: string) => {
  if (!ok) failed++
  console.log(`${ok ? "ok  " : "MISS"} ${what}: ${value} (bound ${bound})`)
}

if (!existsSync("/usr/bin/time")) {
  console.error("missing /usr/bin/time (Debian package time): it measures a process's peak RSS")
  process.exit(1)
}
console.log("building dist/ ...")
execFileSync(node, [join(root, "scripts/build.ts")], { stdio: "inherit" })

// The npm package as a user gets it: packed (prepack builds dist/npm), installed into a prefix.
const prefix = join(work, "prefix")
const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: root, encoding: "utf8", env: { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}` } }).trim().split("\n").pop()!
execFileSync("npm", ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", "--silent", join(work, packed)], { stdio: "inherit" })
const npmGrid = join(prefix, "bin/grid")
const npmEnv = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}` }

/** Wall ms and peak RSS MiB of one whole process (GNU time's maximum resident set size). */
const measure = (cmd: string, args: ReadonlyArray<string>, env = process.env) => {
  const t0 = performance.now()
  const r = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], { encoding: "utf8", env })
  const ms = performance.now() - t0
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`)
  return { ms, mib: Number(r.stderr.trim().split("\n").pop()) / 1024 }
}

/** Both executables out of the page cache (see the top of this file). */
const dropFromPageCache = () => {
  for (const file of [node, grid]) spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"])
}

// ---------------------------------------------------------------- 1. --version
{
  dropFromPageCache()
  type Run = ReturnType<typeof measure>
  const sides = { bare: [] as Array<Run>, binary: [] as Array<Run>, npm: [] as Array<Run> }
  for (let i = 0; i < runs; i++) {
    sides.bare.push(measure(node, ["-e", "0"]))
    sides.binary.push(measure(grid, ["--version"]))
    sides.npm.push(measure(npmGrid, ["--version"], npmEnv))
  }
  const m = (s: keyof typeof sides) => ({ ms: median(sides[s].map((x) => x.ms)), mib: median(sides[s].map((x) => x.mib)) })
  const bare = m("bare"), bin = m("binary"), npm = m("npm")
  console.log(`\n--version, median of ${runs}: node -e 0 ${bare.ms.toFixed(1)} ms ${bare.mib.toFixed(1)} MiB; ` +
    `dist/grid ${bin.ms.toFixed(1)} ms ${bin.mib.toFixed(1)} MiB; npm grid ${npm.ms.toFixed(1)} ms ${npm.mib.toFixed(1)} MiB`)
  check("dist/grid --version wall / node -e 0", `${(bin.ms / bare.ms).toFixed(2)}x`, bin.ms / bare.ms <= 3, "3x")
  check("dist/grid --version peak RSS / node -e 0", `${(bin.mib / bare.mib).toFixed(2)}x`, bin.mib / bare.mib <= 1.5, "1.5x")
  console.log(`     npm grid --version: ${(npm.ms / bare.ms).toFixed(2)}x wall, ${(npm.mib / bare.mib).toFixed(2)}x RSS`)
}

const nats = await startNatsServer()
const client = await gridClient(nats.url)
const statusMb = (pid: number, field: string) => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+)`))![1]) / 1024
const rssOf = (pid: number) => statusMb(pid, "VmRSS")
const stopAll = async (ps: ReadonlyArray<ChildProcess>) => {
  for (const p of ps) if (p.exitCode === null) p.kill("SIGTERM")
  await Promise.all(ps.map((p) => (p.exitCode !== null ? undefined : new Promise((r) => p.once("exit", r)))))
}
const daemonArgs = (id: string) => ["daemon", "--nats-url", nats.url, "--node-id", id, "--work-dir", join(work, "w", id), "--heartbeat-interval", "1s"]

try {
  // -------------------------------------------------------------- 2. idle daemon RSS
  {
    dropFromPageCache()
    const procs = { bare: [] as Array<ChildProcess>, binary: [] as Array<ChildProcess>, npm: [] as Array<ChildProcess> }
    for (let i = 0; i < 3; i++) {
      procs.bare.push(spawn(node, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" }))
      procs.binary.push(spawn(grid, daemonArgs(`idle-bin-${i}`), { stdio: "ignore" }))
      procs.npm.push(spawn(npmGrid, daemonArgs(`idle-npm-${i}`), { stdio: "ignore", env: npmEnv }))
    }
    for (let i = 0; i < 3; i++) {
      for (const id of [`idle-bin-${i}`, `idle-npm-${i}`]) {
        for (let t = 0; t < 400 && (await client.heartbeat(id)) === undefined; t++) await sleep(50)
      }
    }
    await sleep(idleSeconds * 1000)
    const rss = (k: keyof typeof procs) => median(procs[k].map((p) => rssOf(p.pid!)))
    const bare = rss("bare"), bin = rss("binary"), npm = rss("npm")
    // Where it is: private memory (RssAnon) or pages of the Node executable (RssFile, shared).
    const split = (k: keyof typeof procs) => {
      const pid = procs[k][0]!.pid!
      return `${statusMb(pid, "RssAnon").toFixed(0)} anon + ${statusMb(pid, "RssFile").toFixed(0)} file`
    }
    const splits = `setInterval ${split("bare")}, dist/grid ${split("binary")}, npm ${split("npm")} MB`
    const beating = (await Promise.all([0, 1, 2].flatMap((i) => [client.heartbeat(`idle-bin-${i}`), client.heartbeat(`idle-npm-${i}`)]))).filter((h) => h !== undefined).length
    await stopAll([...procs.bare, ...procs.binary, ...procs.npm])
    console.log(`\nidle after ${idleSeconds} s (median of 3, ${beating}/6 daemons heartbeating): setInterval ${bare.toFixed(1)} MB; ` +
      `dist/grid daemon ${bin.toFixed(1)} MB; npm grid daemon ${npm.toFixed(1)} MB\n     (${splits})`)
    check("dist/grid idle daemon RSS / setInterval", `${(bin / bare).toFixed(2)}x`, bin / bare <= 1.5, "1.5x")
    check("npm grid idle daemon RSS / setInterval", `${(npm / bare).toFixed(2)}x`, npm / bare <= 1.5, "1.5x")
  }

  // -------------------------------------------------------------- 3. start to first heartbeat
  {
    const ms: Array<number> = []
    for (let i = 0; i < 10; i++) {
      const id = `ready-${i}`
      const t0 = performance.now()
      const p = spawn(grid, daemonArgs(id), { stdio: "ignore" })
      while ((await client.heartbeat(id)) === undefined) await sleep(2)
      ms.push(performance.now() - t0)
      await stopAll([p])
    }
    console.log(`\nstart to first heartbeat, dist/grid daemon: p50 ${median(ms).toFixed(0)} ms (${ms.map((x) => x.toFixed(0)).join(", ")})`)
    check("start-to-ready p50", `${median(ms).toFixed(0)} ms`, median(ms) <= 300, "300 ms")
  }

  // -------------------------------------------------------------- 4. start to first instruction
  {
    const id = "dispatch"
    const p = spawn(grid, daemonArgs(id), { stdio: "ignore" })
    while ((await client.heartbeat(id)) === undefined) await sleep(5)
    const stamps = join(work, "stamps")
    mkdirSync(stamps)
    const ms: Array<number> = []
    for (let i = 0; i < 20; i++) {
      const testId = `dispatch-${i}`
      const stamp = join(stamps, testId)
      const publishedNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6))
      await client.send(id, { kind: "start", testId, tool: "command", params: { command: ["touch", stamp] } })
      await client.waitEvent(testId, "finished", 20_000)
      ms.push(Number(statSync(stamp, { bigint: true }).mtimeNs - publishedNs) / 1e6)
    }
    await stopAll([p])
    console.log(`\npublish of start to the tool's first instruction, over 20: p50 ${median(ms).toFixed(1)} ms, p95 ${pct(ms, 95).toFixed(1)} ms`)
    check("start to first instruction p50", `${median(ms).toFixed(1)} ms`, median(ms) < 20, "20 ms")
    check("start to first instruction p95", `${pct(ms, 95).toFixed(1)} ms`, pct(ms, 95) < 20, "20 ms")
  }
} finally {
  await client.close()
  await nats.close()
}

// ---------------------------------------------------------------- 5. size and throughput
{
  console.log(`\ndist/grid: ${(statSync(grid).size / 1024 / 1024).toFixed(1)} MB (Node ${process.version} itself: ${(statSync(execFileSync("readlink", ["-f", node], { encoding: "utf8" }).trim()).size / 1024 / 1024).toFixed(1)} MB)`)
  const freePort = () =>
    new Promise<number>((ok) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as { port: number }).port
        s.close(() => ok(port))
      })
    })
  const pin = (core: number, cmd: string, args: ReadonlyArray<string>) => (existsSync("/usr/bin/taskset") ? ["taskset", ["-c", String(core), cmd, ...args]] as const : [cmd, args] as const)
  const port = await freePort()
  const [tc, ta] = pin(0, grid, ["target", "--port", String(port)])
  const target = spawn(tc, ta, { stdio: "ignore" })
  await sleep(1000)
  const scenario = join(work, "scenario.json")
  writeFileSync(scenario, JSON.stringify({ target: `http://127.0.0.1:${port}`, requests: [{ name: "home", path: "/" }], load: { model: "closed", users: 50, durationSeconds: 3 } }))
  // Requests per second and per CPU-second of the engine process (the figure that stays
  // stable when other work shares the two cores).
  const engineRun = (cmd: string, env = process.env) => {
    const out = join(work, `engine-${Date.now()}.jtl`)
    const [c, a] = pin(1, cmd, ["engine", scenario, "--results", out])
    const r = spawnSync("/usr/bin/time", ["-f", "%U %S", c, ...a], { env, encoding: "utf8" })
    if (r.status !== 0) throw new Error(`engine: ${r.stderr}`)
    const [user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number)
    const n = readFileSync(out, "utf8").split("\n").filter((l) => l !== "").length - 1
    rmSync(out)
    return { rps: n / 3, perCpu: n / (user! + sys!) }
  }
  const eng = { binary: [] as Array<{ rps: number; perCpu: number }>, npm: [] as Array<{ rps: number; perCpu: number }> }
  engineRun(grid) // warm-up: the first run pays for cold pages
  for (let i = 0; i < 5; i++) {
    eng.binary.push(engineRun(grid))
    eng.npm.push(engineRun(npmGrid, npmEnv))
  }
  target.kill("SIGTERM")
  const eb = median(eng.binary.map((x) => x.rps)), en = median(eng.npm.map((x) => x.rps))
  const cb = median(eng.binary.map((x) => x.perCpu)), cn = median(eng.npm.map((x) => x.perCpu))
  console.log(`built-in engine, 50 users, median of 5: dist/grid ${eb.toFixed(0)} req/s (${cb.toFixed(0)} per CPU-s), ` +
    `npm grid ${en.toFixed(0)} req/s (${cn.toFixed(0)} per CPU-s); req/s ratio ${(eb / en).toFixed(2)}x`)
  check("engine requests per CPU-second, binary / npm", `${(cb / cn).toFixed(2)}x`, cb / cn >= 0.95, ">= 0.95x (same within noise)")

  const jtl = join(work, "big.jtl")
  const rows = ["timeStamp,elapsed,label,responseCode,success,bytes,sentBytes,Latency"]
  const t0 = 1_700_000_000_000
  for (let i = 0; i < 300_000; i++) rows.push(`${t0 + Math.floor(i / 10)},${(i * 7) % 200 + 1},step-${i % 5},200,true,100,50,1`)
  writeFileSync(jtl, `${rows.join("\n")}\n`)
  const rep = { binary: [] as Array<number>, npm: [] as Array<number> }
  for (let i = 0; i < 3; i++) {
    rep.binary.push(measure(grid, ["report", jtl]).ms)
    rep.npm.push(measure(npmGrid, ["report", jtl], npmEnv).ms)
  }
  const rb = median(rep.binary), rn = median(rep.npm)
  console.log(`grid report, 300k samples, median of 3: dist/grid ${rb.toFixed(0)} ms, npm grid ${rn.toFixed(0)} ms`)
  check("report time, binary / npm", `${(rb / rn).toFixed(2)}x`, rb / rn <= 1.05, "<= 1.05x (same within noise)")
}

rmSync(work, { recursive: true, force: true })
process.exit(failed === 0 ? 0 : 1)
