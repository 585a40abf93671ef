// `npm run chaos -- --minutes N --seed S --nodes K [--cluster] [--docker-faults] [--no-disk] [--no-docker]`:
// K real daemons on a real NATS (one server, or a three-server cluster with --cluster) run a
// stream of short tests (scripts/chaos/workload.ts) while faults land on a seeded schedule
// (scripts/chaos/faults.ts). At the end every fault is repaired, the fleet stopped cleanly,
// and the invariants (scripts/chaos/invariants.ts) checked: one table, exit 1 on a violation.
// Stopping dockerd is off unless --docker-faults: other work on a machine shares its dockerd.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { between, type FaultKind, faultKinds, inject, pick, rng } from "./chaos/faults.ts"
import { type Daemon, mountTmpfs, rssKb, running, signalDaemon, startDaemon, startNats, startTarget, unmount } from "./chaos/fleet.ts"
import { checkLeftovers, checkRss, checkTests, readStored, table, type Violation } from "./chaos/invariants.ts"
import { type Kind, launchTest, type TestRecord } from "./chaos/workload.ts"
import { buildBusyboxImage, dockerAvailable, removeImage } from "../test/fixtures/docker/busyboxImage.ts"

const args = process.argv.slice(2)
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`)
  const v = i >= 0 ? Number(args[i + 1]) : fallback
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`chaos: --${name} ${args[i + 1]}: must be a positive number`)
    process.exit(2)
  }
  return v
}
const minutes = opt("minutes", 2)
const seed = Math.floor(opt("seed", (Date.now() % 1_000_000) + 1))
const nodes = Math.floor(opt("nodes", 3))
const cluster = args.includes("--cluster")
const dockerFaults = args.includes("--docker-faults")
// Docker-runner tests when an engine answers (and busybox-static gives a local image to run).
const image = args.includes("--no-docker") || !fs.existsSync("/bin/busybox") || !dockerAvailable() ? undefined : buildBusyboxImage()
const r = rng(seed)
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms))
const say = (line: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), `grid-chaos-${seed}-`))
say(`seed ${seed}, ${nodes} nodes, ${minutes} min, NATS ${cluster ? "three-server cluster" : "one server"}, docker tests ${image === undefined ? "off (no engine answers, or --no-docker)" : `on (${image})`}, dir ${dir}`)
const nats = await startNats(cluster)
const replicas = cluster ? 3 : undefined
const target = await startTarget()
const daemons: Array<Daemon> = Array.from({ length: nodes }, (_, i) => ({
  nodeId: `chaos-${seed}-${i}`, workDir: path.join(dir, `node-${i}`), child: undefined, startedAt: 0, log: "", warmRssKb: undefined
}))
// Node 0's work dir is a 32 MB tmpfs when the machine allows mounting one: the disk fault fills it.
const diskNode = args.includes("--no-disk") || process.getuid?.() !== 0 || !mountTmpfs(daemons[0]!.workDir, 32) ? undefined : daemons[0]!
if (diskNode === undefined) say("disk_full: off (no tmpfs could be mounted here, or --no-disk)")
for (const d of daemons) {
  fs.mkdirSync(d.workDir, { recursive: true })
  startDaemon(d, nats.url, replicas)
}
await sleep(8_000)

const tests: Array<TestRecord> = []
const faults = new Map<FaultKind, number>(faultKinds.map((k) => [k, 0]))
const repairs: Array<Promise<void>> = []
const kinds: ReadonlyArray<FaultKind> = faultKinds
  .filter((k) => k !== "dockerd_restart" || (dockerFaults && image !== undefined))
  .filter((k) => k !== "container_kill" || image !== undefined)
  .filter((k) => k !== "disk_full" || diskNode !== undefined)
const endAt = Date.now() + minutes * 60_000
const BOUND_MS = 150_000

// Warm-up RSS: each daemon incarnation's, 20 s after it started.
const sampler = setInterval(() => {
  for (const d of daemons) if (running(d) && d.warmRssKb === undefined && Date.now() - d.startedAt > 20_000) d.warmRssKb = rssKb(d.child?.pid)
}, 2_000)

const workload = (async () => {
  let n = 0
  while (Date.now() < endAt) {
    // At most one launch per node at a time: the tests are short, the nodes have capacity 1.
    const idle = daemons.filter((d) => !tests.some((t) => t.nodeId === d.nodeId && t.endedAt === undefined))
    if (idle.length > 0) {
      const d = pick(r, idle)
      const roll = r()
      const kind: Kind = roll < 0.6 ? "builtin" : roll < 0.85 || image === undefined ? "command" : "docker"
      tests.push(launchTest({ dir, natsUrl: nats.url, targetUrl: target.url, testId: `chaos-${seed}-t${n++}`, nodeId: d.nodeId, kind, durationS: between(r, 3, 8), boundMs: BOUND_MS, image }))
    }
    await sleep(between(r, 500, 2_500))
  }
})()

const chaos = (async () => {
  await sleep(between(r, 5_000, 10_000))
  while (Date.now() < endAt) {
    const kind = pick(r, kinds)
    const done = await inject({ r, daemons, nats, natsUrl: nats.url, replicas, tests, diskNode, repairs, log: (k, detail) => say(`fault ${k}: ${detail}`) }, kind)
    if (done) faults.set(kind, faults.get(kind)! + 1)
    await sleep(between(r, 4_000, 15_000))
  }
})()

await Promise.all([workload, chaos])
say("time is up: repairing, waiting for the launches to end")
await Promise.all(repairs)
for (const d of daemons) if (!running(d)) startDaemon(d, nats.url, replicas)
while (tests.some((t) => t.endedAt === undefined)) await sleep(500)
clearInterval(sampler)
// Terminal events of tests whose launch was killed come with their lease's expiry.
await sleep(15_000)

const endRss = new Map<string, number>()
for (const d of daemons) {
  const kb = rssKb(d.child?.pid)
  if (kb !== undefined) endRss.set(d.nodeId, kb)
}
const stored = await readStored(nats.url, tests.map((t) => t.testId))
const codes = await Promise.all(daemons.map((d) => signalDaemon(d, "SIGTERM")))
const violations: Array<Violation> = [
  ...checkTests(tests, stored, target.counts),
  ...codes.flatMap((c, i) => (c === 0 ? [] : [{ invariant: "daemons stop cleanly", testId: "-", detail: `${daemons[i]!.nodeId} exited ${c}` }])),
  ...checkLeftovers(daemons),
  ...checkRss(daemons, endRss)
]

const accepted = tests.filter((t) => stored.get(t.testId)?.events.some((e) => e.kind === "accepted")).length
console.log(`\nchaos seed ${seed}: ${minutes} min, ${nodes} nodes, NATS ${cluster ? "cluster of 3" : "one server"}`)
console.log(table([
  ...[...faults].map(([k, c]): [string, number] => [`fault ${k}`, c]),
  ["tests started", tests.length],
  ["tests accepted", accepted],
  ["tests touched by a node fault", tests.filter((t) => t.nodeFaults.length > 0).length],
  ["launches killed (controller_kill)", tests.filter((t) => t.controllerKilled).length],
  ["launch exit 0 / 1 / other", `${tests.filter((t) => t.exitCode === 0).length} / ${tests.filter((t) => t.exitCode === 1).length} / ${tests.filter((t) => t.exitCode !== 0 && t.exitCode !== 1).length}`],
  ["daemon RSS warm -> end (MB)", daemons.map((d) => `${d.nodeId.split("-").pop()}: ${d.warmRssKb === undefined ? "-" : (d.warmRssKb / 1024).toFixed(0)} -> ${endRss.has(d.nodeId) ? (endRss.get(d.nodeId)! / 1024).toFixed(0) : "-"}`).join(", ")],
  ["violations", violations.length]
]))
for (const v of violations) console.log(`VIOLATION  ${v.invariant}  test ${v.testId}  seed ${seed}: ${v.detail}`)
fs.writeFileSync(path.join(dir, "chaos.json"), JSON.stringify({ seed, minutes, nodes, cluster, faults: Object.fromEntries(faults), tests: tests.map(({ child: _c, ...t }) => t), violations }, null, 2))

if (image !== undefined) removeImage(image)
await target.close()
await nats.close()
if (diskNode !== undefined) unmount(diskNode.workDir)
if (violations.length === 0) fs.rmSync(dir, { recursive: true, force: true })
else {
  for (const d of daemons) fs.writeFileSync(path.join(dir, `${d.nodeId}.log`), d.log)
  say(`kept ${dir} (chaos.json, daemon logs) for the violations`)
}
process.exit(violations.length === 0 ? 0 : 1)
