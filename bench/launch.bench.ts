// A thousand nodes followed live (issue 18 part 3): a simulated fleet (bench/fleet.ts: 1,000
// nodes speaking the real protocol in one process: heartbeats, commands, events, one window a
// second each with 11 real HdrHistograms) on its own nats-server, and one real `grid launch`
// process (--count 1000, barrier, lease) following them for 60 s. Measured:
// - the launch's CPU share while it follows them: CPU time of the launch process (from
//   /proc/<pid>/stat) between its first and its last merged second, over the wall time between,
//   and per second of the test merged (what it needs, whatever share a loaded machine gives it);
// - each second's emission lag: from the moment the fleet's last window of that second was
//   acknowledged by JetStream to the moment the launch printed the merged second (p50, p99);
// - the merged total (the launch's --out document) against the sum the fleet published.
// The machine is shared: figures are CPU-seconds and ratios, and the fleet's and nats-server's
// CPU are printed beside the launch's for scale. Goals: <= 60% of a core, p99 lag < 1.5 s.
// Exits non-zero if the totals differ or a second was never printed.
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Duration, Effect } from "effect"
import { Controller } from "../src/controller/Controller.ts"
import { gridMain, nodeBin } from "../test/support/daemon.ts"
import { startNatsServer } from "../test/support/natsServer.ts"

const NODES = Number(process.env.GRID_BENCH_FLEET_NODES ?? 1000)
const SECONDS = Number(process.env.GRID_BENCH_FLEET_SECONDS ?? 60)
const GOAL_CPU = 0.6
const GOAL_P99_MS = 1500

const fleetMain = fileURLToPath(new URL("./fleet.ts", import.meta.url))
const TICK_HZ = 100

/** utime + stime of a live process, in seconds (undefined once it is gone). */
const cpuOf = (pid: number): number | undefined => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / TICK_HZ
  } catch {
    return undefined
  }
}

/** The pid of the process whose command line holds `needle` (our nats-server, by its store). */
const pidOf = (needle: string): number | undefined => {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(needle)) return Number(d)
    } catch {
      // gone meanwhile
    }
  }
  return undefined
}

const lines = (child: ChildProcess, stream: "stdout" | "stderr", f: (line: string, at: number) => void) =>
  createInterface({ input: child[stream]! }).on("line", (l) => f(l, Date.now()))

const pct = (xs: Array<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}

const nats = await startNatsServer()
let failed = false
try {
  // The JetStream assets, as any controller or daemon creates them at start-up.
  await Effect.runPromise(Effect.provide(Effect.void, Controller.layerNats({ url: nats.url, nodeTtl: Duration.seconds(15) })))

  const fleet = spawn(nodeBin, [fleetMain, nats.url, String(NODES)], { stdio: ["ignore", "pipe", "inherit"] })
  const fleetOut: Array<unknown> = []
  await new Promise<void>((resolve, reject) => {
    lines(fleet, "stdout", (l) => {
      const v = JSON.parse(l) as { ready?: boolean }
      if (v.ready === true) resolve()
      else fleetOut.push(v)
    })
    fleet.on("exit", (code) => reject(new Error(`fleet exited ${code}`)))
  })

  const dir = mkdtempSync(join(tmpdir(), "grid-launch-bench-"))
  const plan = join(dir, "plan.json")
  writeFileSync(plan, JSON.stringify({ name: "fleet", tool: "command", params: { command: ["true"], users: NODES, durationSeconds: SECONDS } }))
  const out = join(dir, "out.json")
  const t0 = Date.now()
  // GRID_BENCH_CPU_PROF=<dir>: the launch writes a V8 CPU profile there (open it in Chrome's devtools).
  const prof = process.env.GRID_BENCH_CPU_PROF !== undefined ? ["--cpu-prof", "--cpu-prof-dir", process.env.GRID_BENCH_CPU_PROF] : []
  const launch = spawn(nodeBin, [...prof, gridMain, "launch", plan, "--count", String(NODES), "--out", out, "--nats-url", nats.url], { stdio: ["ignore", "pipe", "pipe"] })
  const emitted: Array<{ at: number; cpu: number | undefined }> = []
  let lastCpu = 0
  const sampler = setInterval(() => (lastCpu = cpuOf(launch.pid!) ?? lastCpu), 250)
  const onLine = (l: string, at: number) => {
    const m = /^(\d+):(\d\d) {2}nodes /.exec(l)
    if (m === null) return
    const seq = Number(m[1]) * 60 + Number(m[2]) - 1
    emitted[seq] ??= { at, cpu: cpuOf(launch.pid!) }
  }
  const tail: Array<string> = []
  const log: Array<string> = []
  for (const s of ["stdout", "stderr"] as const) {
    lines(launch, s, (l, at) => {
      onLine(l, at)
      log.push(l)
      tail.push(l)
      if (tail.length > 15) tail.shift()
    })
  }
  // A launch that does not end (seen once: its --out report written, the process still up
  // 10 minutes later) is killed, and said so, rather than hanging the bench.
  let hung = false
  const bound = setTimeout(() => {
    hung = true
    launch.kill("SIGKILL")
  }, (SECONDS + 180) * 1000)
  const code = await new Promise<number | null>((resolve) => launch.on("exit", resolve))
  clearTimeout(bound)
  if (hung) console.log(`grid launch did not exit within ${SECONDS + 180} s: killed`)
  clearInterval(sampler)
  writeFileSync(join(dir, "launch.log"), `${log.join("\n")}\n`)
  const launchWall = (Date.now() - t0) / 1000
  const fleetCpu = cpuOf(fleet.pid!) ?? NaN
  const natsPid = pidOf(nats.storeDir)
  const natsCpu = natsPid === undefined ? NaN : (cpuOf(natsPid) ?? NaN)
  fleet.kill("SIGTERM")
  await new Promise((resolve) => fleet.on("exit", resolve))
  const published = fleetOut.at(-1) as { total: number; windows: number; publishedAt: Array<number> }
  let doc: { total: { count: number }; outcome?: string }
  try {
    doc = JSON.parse(readFileSync(out, "utf8")) as typeof doc
  } catch {
    throw new Error(`grid launch exited ${code} without its --out document:\n${tail.join("\n")}`)
  }

  const seqs = Array.from({ length: SECONDS }, (_, i) => i)
  const missing = seqs.filter((s) => emitted[s] === undefined)
  const lags = seqs.filter((s) => emitted[s] !== undefined && published.publishedAt[s] !== undefined).map((s) => emitted[s]!.at - published.publishedAt[s]!)
  // Between the first and the last second printed (all of them when the launch kept up).
  const printed = seqs.filter((s) => emitted[s]?.cpu !== undefined)
  const first = emitted[printed[0] ?? -1]
  const last = emitted[printed.at(-1) ?? -1]
  const followCpu = first !== undefined && last !== undefined ? last.cpu! - first.cpu! : NaN
  const followWall = first !== undefined && last !== undefined ? (last.at - first.at) / 1000 : NaN
  const share = followCpu / followWall
  // What following costs whatever the machine's load: CPU per second of the test merged.
  const perTestSecond = followCpu / ((printed.at(-1) ?? 0) - (printed[0] ?? 0))
  console.log(`launch: ${NODES} simulated nodes x ${SECONDS} s followed by one grid launch (exit ${code}, outcome ${doc.outcome}); machine shared with other work`)
  console.log(`  merged count ${doc.total.count}, published ${published.total} in ${published.windows} windows: ${doc.total.count === published.total ? "equal" : "DIFFERENT"}`)
  console.log(`  seconds printed ${SECONDS - missing.length}/${SECONDS}${missing.length > 0 ? ` (missing ${missing.join(",")})` : ""}`)
  console.log(`  lag by second (ms): ${seqs.filter((s) => s % 5 === 0 || s === SECONDS - 1).map((s) => `${s}:${emitted[s] !== undefined && published.publishedAt[s] !== undefined ? emitted[s]!.at - published.publishedAt[s]! : "-"}`).join(" ")}`)
  console.log(`  emission lag after the second's last window was acknowledged: p50 ${pct(lags, 50)} ms, p99 ${pct(lags, 99)} ms, max ${Math.max(...lags)} ms (goal p99 < ${GOAL_P99_MS} ms)`)
  console.log(`  launch CPU while following: ${followCpu.toFixed(2)} CPU-s over ${followWall.toFixed(1)} s of wall time = ${(share * 100).toFixed(1)}% of one core (goal <= ${GOAL_CPU * 100}%)`)
  console.log(`  launch CPU per second of the test merged (${NODES} windows, load-independent): ${perTestSecond.toFixed(3)} CPU-s, i.e. it keeps up on ${(perTestSecond * 100).toFixed(1)}% of one core`)
  console.log(`  launch CPU in all (start-up, ${NODES} starts, barrier, following, report): ${lastCpu.toFixed(2)} CPU-s over ${launchWall.toFixed(1)} s`)
  console.log(`  for scale, same run: the fleet simulating ${NODES} nodes ${fleetCpu.toFixed(1)} CPU-s, nats-server ${natsCpu.toFixed(1)} CPU-s`)
  if (hung || code !== 0 || doc.total.count !== published.total || missing.length > 0) {
    failed = true
    console.log(`${tail.join("\n")}\n(the launch's whole output and --out document: ${dir})`)
  } else rmSync(dir, { recursive: true, force: true })
} finally {
  await nats.close()
}
process.exit(failed ? 1 : 0)
