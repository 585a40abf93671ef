// Live flags (issue #13): how fast a flag change reaches a node, against its peer in the same
// run, a bare KV watcher of the same bucket on the same server. For each of BENCH_RUNS (20) puts
// of `node.<id>.capacity` (alternating values), two times from the put's start: when the bare
// watcher sees the entry, and when the node's heartbeat (read through a watch of grid_nodes, not
// polled) says it applied that revision: NodeFlags' decode, resolve and snapshot, and the
// heartbeat put it triggers. A real `grid daemon` process (Node 24, sources) on a real
// nats-server. Bound: the node's p95 within the 1 s.
import { Kvm } from "@nats-io/kv"
import { connect } from "@nats-io/transport-node"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startNatsServer } from "../test/support/natsServer.ts"

const root = join(import.meta.dirname, "..")
const runs = Number(process.env.BENCH_RUNS ?? 20)
const pct = (xs: ReadonlyArray<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const nats = await startNatsServer()
const work = mkdtempSync(join(tmpdir(), "grid-flags-bench-"))
const nodeId = "bench-flags"
const daemon = spawn(join(root, "node_modules/.bin/node"), [
  join(root, "src/cli/main.ts"), "daemon", "--nats-url", nats.url, "--node-id", nodeId, "--work-dir", work, "--heartbeat-interval", "5s"
], { stdio: ["ignore", "ignore", "inherit"] })
let failed = 0
try {
  const nc = await connect({ servers: nats.url })
  const kvm = new Kvm(nc)
  // Up: its heartbeat is stored (the daemon creates both buckets before it beats).
  let nodes = await kvm.create("grid_nodes", { history: 1, ttl: 15_000 })
  for (let i = 0; i < 400 && (await nodes.get(nodeId)) === null; i++) await sleep(50)
  nodes = await kvm.open("grid_nodes")
  const flags = await kvm.open("grid_flags")

  const seenBare = new Map<number, number>()
  const seenNode = new Map<number, number>()
  const bare = await flags.watch({ include: "updates" })
  void (async () => {
    for await (const e of bare) seenBare.set(e.revision, performance.now())
  })()
  const beats = await nodes.watch({ key: nodeId, include: "updates" })
  void (async () => {
    for await (const e of beats) {
      if (e.operation !== "PUT") continue
      const rev = (e.json() as { flagsRevision?: number }).flagsRevision ?? 0
      if (!seenNode.has(rev)) seenNode.set(rev, performance.now())
    }
  })()

  const bareMs: Array<number> = []
  const nodeMs: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const rev = await flags.put(`node.${nodeId}.capacity`, String(2 + (i % 2)))
    for (let w = 0; w < 200 && !(seenBare.has(rev) && seenNode.has(rev)); w++) await sleep(2)
    if (!seenNode.has(rev)) throw new Error(`the node did not apply revision ${rev} within 400 ms of polling`)
    bareMs.push(seenBare.get(rev)! - t0)
    nodeMs.push(seenNode.get(rev)! - t0)
    await sleep(100)
  }
  bare.stop()
  beats.stop()
  await nc.close()
  const fmt = (xs: ReadonlyArray<number>) => `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms`
  console.log(`flag put -> seen, ${runs} puts: bare KV watcher ${fmt(bareMs)}; node applied (heartbeat) ${fmt(nodeMs)}`)
  console.log(`node / bare watcher, p50: ${(pct(nodeMs, 50) / pct(bareMs, 50)).toFixed(1)}x (+${(pct(nodeMs, 50) - pct(bareMs, 50)).toFixed(1)} ms)`)
  const ok = pct(nodeMs, 95) <= 1000
  if (!ok) failed++
  console.log(`${ok ? "ok  " : "MISS"} node applies a flag change, p95: ${pct(nodeMs, 95).toFixed(1)} ms (bound 1000 ms)`)
} finally {
  daemon.kill("SIGTERM")
  await new Promise((r) => daemon.once("exit", r))
  await nats.close()
  rmSync(work, { recursive: true, force: true })
}
process.exit(failed === 0 ? 0 : 1)
