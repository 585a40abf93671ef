// Controller benchmark (issue 6): how many nodes one controller merges in real time on one
// core. A separate publisher process (this file with `publish`) sends realistic result windows
// (10 labels plus `*`, each with a real HdrHistogram) for many simulated node ids into
// GRID_RESULTS of its own nats-server.
// 1. Live, 200 nodes at 1 window/s each for a few seconds: the Controller's `results` stream into
//    the WindowMerger as a launch uses it; the merged count must equal the sum published, and
//    each second must be emitted soon after its windows arrive.
// 2. Throughput: windows of many nodes read once from the stream, then timed in this process:
//    the merge (parse + dedup + histogram decode + add + per-second emission) against its peers
//    measured in the same run, JSON.parse alone and the raw decode (parse + histogram decode,
//    no merging). Windows merged per CPU-second = nodes one core keeps up with at 1 window/s.
// Exits non-zero if the count is wrong or one core cannot keep up with 200 nodes.
import { DeliverPolicy, jetstream } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Stream } from "effect"
import { Controller } from "../src/controller/Controller.ts"
import { WindowMerger } from "../src/controller/Merger.ts"
import { decodeHistogram, encodeHistogram, newHistogram, type ResultWindow } from "../src/protocol/results.ts"
import { startNatsServer } from "../test/support/natsServer.ts"

const LABELS = 10
const LIVE_NODES = Number(process.env.GRID_BENCH_LIVE_NODES ?? 200)
const LIVE_SECONDS = Number(process.env.GRID_BENCH_LIVE_SECONDS ?? 6)
const BULK_NODES = Number(process.env.GRID_BENCH_BULK_NODES ?? 1000)
const BULK_SECONDS = Number(process.env.GRID_BENCH_BULK_SECONDS ?? 5)
const GOAL_NODES = 200

// ---------------------------------------------------------------- publisher (child process)

/** Window bodies with realistic histograms: ~50 req/s per node per label, log-normal latencies. */
const templates = (n: number): Array<{ labels: string; count: number }> => {
  let seed = 7
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return seed / 4294967296
  }
  const normal = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd())
  return Array.from({ length: n }, () => {
    const all = newHistogram()
    let allCount = 0
    let allErrors = 0
    const labels: Array<Record<string, unknown>> = []
    for (let l = 0; l < LABELS; l++) {
      const h = newHistogram()
      const count = 30 + Math.floor(rnd() * 40)
      let sum = 0
      let min = Infinity
      let max = 0
      let errors = 0
      for (let i = 0; i < count; i++) {
        const us = Math.max(200, Math.round(Math.exp(Math.log(5_000 * (1 + l)) + 0.6 * normal())))
        h.recordValue(us)
        all.recordValue(us)
        sum += us / 1000
        min = Math.min(min, us / 1000)
        max = Math.max(max, us / 1000)
        if (rnd() < 0.01) errors++
      }
      allCount += count
      allErrors += errors
      const ms = (p: number) => h.getValueAtPercentile(p) / 1000
      labels.push({
        label: `request ${l}`, count, errors, bytesIn: count * 1200, bytesOut: count * 150,
        latencyMs: { min, mean: sum / count, p50: ms(50), p90: ms(90), p95: ms(95), p99: ms(99), max },
        status: errors > 0 ? { "200": count - errors, "500": errors } : { "200": count }, hdr: encodeHistogram(h)
      })
    }
    const ms = (p: number) => all.getValueAtPercentile(p) / 1000
    labels.unshift({
      label: "*", count: allCount, errors: allErrors, bytesIn: allCount * 1200, bytesOut: allCount * 150,
      latencyMs: { min: all.minNonZeroValue / 1000, mean: all.mean / 1000, p50: ms(50), p90: ms(90), p95: ms(95), p99: ms(99), max: all.maxValue / 1000 },
      status: { "200": allCount - allErrors, "500": allErrors }, hdr: encodeHistogram(all)
    })
    return { labels: JSON.stringify(labels), count: allCount }
  })
}

const publish = async (url: string, testId: string, nodes: number, seconds: number, realtime: boolean) => {
  const nc = await connect({ servers: url })
  const js = jetstream(nc)
  const pool = templates(64)
  const enc = new TextEncoder()
  let total = 0
  const t0 = Date.now()
  for (let seq = 0; seq < seconds; seq++) {
    if (realtime) {
      const wait = t0 + seq * 1000 - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    }
    const acks: Array<Promise<unknown>> = []
    for (let n = 0; n < nodes; n++) {
      const nodeId = `sim-${String(n).padStart(4, "0")}`
      const t = pool[(n * 31 + seq * 7) % pool.length]!
      total += t.count
      const start = t0 + seq * 1000
      const body = `{"testId":"${testId}","nodeId":"${nodeId}","seq":${seq},"start":${start},"end":${start + 1000},"labels":${t.labels},"final":${seq === seconds - 1}}`
      acks.push(js.publish(`grid.results.${testId}.${nodeId}`, enc.encode(body), { msgID: `${testId}.${nodeId}.${seq}` }))
      if (acks.length >= 500) await Promise.all(acks.splice(0))
    }
    await Promise.all(acks)
    // One repeated window per second, as a retried publish after the dedup window would be.
    const again = pool[(0 + seq * 7) % pool.length]!
    nc.publish(`grid.results.${testId}.sim-0000`, enc.encode(`{"testId":"${testId}","nodeId":"sim-0000","seq":${seq},"start":${t0 + seq * 1000},"end":${t0 + seq * 1000 + 1000},"labels":${again.labels},"final":${seq === seconds - 1}}`))
  }
  await nc.flush()
  await nc.close()
  process.stdout.write(`${JSON.stringify({ total })}\n`)
}

if (process.argv[2] === "publish") {
  const [url, testId, nodes, seconds, realtime] = process.argv.slice(3)
  await publish(url!, testId!, Number(nodes), Number(seconds), realtime === "realtime")
  process.exit(0)
}

// ---------------------------------------------------------------- controller side

const self = fileURLToPath(import.meta.url)
const runPublisher = (url: string, testId: string, nodes: number, seconds: number, realtime: boolean): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [self, "publish", url, testId, String(nodes), String(seconds), realtime ? "realtime" : "bulk"], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out).total as number) : reject(new Error(`publisher exited ${code}`))))
  })

const nats = await startNatsServer()
let failed = false
try {
  const layer = Controller.layerNats({ url: nats.url, nodeTtl: Duration.seconds(15) })

  // 1. Live: 200 nodes in real time through the Controller's results stream.
  const nodeIds = Array.from({ length: LIVE_NODES }, (_, n) => `sim-${String(n).padStart(4, "0")}`)
  const merger = new WindowMerger(nodeIds, { lagMs: 1500 })
  const emittedAt: Array<number> = []
  const cpu0 = process.cpuUsage()
  const published = runPublisher(nats.url, "live", LIVE_NODES, LIVE_SECONDS, true)
  const t0 = Date.now()
  await Effect.runPromise(
    Effect.gen(function*() {
      const c = yield* Controller
      yield* c.results("live").pipe(
        Stream.runForEach((w) => Effect.sync(() => merger.add(w, Date.now()))),
        Effect.forkScoped
      )
      for (;;) {
        yield* Effect.sleep("100 millis")
        for (const p of merger.tick(Date.now())) emittedAt[p.seq] = Date.now() - p.start
        if (merger.allFinal && emittedAt.length === LIVE_SECONDS) break
        if (Date.now() - t0 > (LIVE_SECONDS + 30) * 1000) break
      }
    }).pipe(Effect.scoped, Effect.provide(layer))
  )
  const liveCpu = process.cpuUsage(cpu0)
  const total = await published
  merger.flush()
  const merged = merger.summary(false).total.count
  const okCount = merged === total
  console.log(`live: ${LIVE_NODES} nodes x ${LIVE_SECONDS} s, ${LIVE_NODES * LIVE_SECONDS} windows (+${merger.duplicates} repeated, dropped)`)
  console.log(`  merged count ${merged}, published ${total}: ${okCount ? "equal" : "DIFFERENT"}`)
  console.log(`  each second emitted ${Math.min(...emittedAt)}-${Math.max(...emittedAt)} ms after its windows were published (lag bound 1500 ms; the controller ticks every 100 ms)`)
  console.log(`  controller CPU ${((liveCpu.user + liveCpu.system) / 1000 / (Date.now() - t0) * 100).toFixed(1)}% of one core while following ${LIVE_NODES} nodes`)
  if (!okCount || emittedAt.length !== LIVE_SECONDS) failed = true

  // 2. Throughput on the same kind of messages, read once from the stream.
  const windows = BULK_NODES * BULK_SECONDS
  await runPublisher(nats.url, "bulk", BULK_NODES, BULK_SECONDS, false)
  const nc = await connect({ servers: nats.url })
  const consumer = await jetstream(nc).consumers.get("GRID_RESULTS", { filter_subjects: "grid.results.bulk.>", deliver_policy: DeliverPolicy.All })
  const raw: Array<string> = []
  const messages = await consumer.consume({ max_messages: 2048 })
  for await (const m of messages) {
    raw.push(m.string())
    if (m.info.pending === 0) break
  }
  await messages.close()
  await nc.close()

  const time = (f: () => void): number => {
    const c = process.cpuUsage()
    f()
    const d = process.cpuUsage(c)
    return (d.user + d.system) / 1e6
  }
  let sink = 0
  const runs = { parse: [] as Array<number>, decode: [] as Array<number>, merge: [] as Array<number> }
  for (let round = 0; round < 3; round++) {
    runs.parse.push(time(() => {
      for (const s of raw) sink += (JSON.parse(s) as ResultWindow).seq
    }))
    runs.decode.push(time(() => {
      for (const s of raw) {
        const w = JSON.parse(s) as ResultWindow
        for (const l of w.labels) sink += decodeHistogram(l.hdr).totalCount
      }
    }))
    runs.merge.push(time(() => {
      const m = new WindowMerger([], { lagMs: 1500 })
      let now = 0
      let seq = -1
      for (const s of raw) {
        const w = JSON.parse(s) as ResultWindow
        if (w.seq !== seq) {
          seq = w.seq
          now += 1000
          m.tick(now)
        }
        m.add(w, now)
      }
      m.flush()
      sink += m.summary(false).total.count
    }))
  }
  const best = (xs: Array<number>) => Math.min(...xs)
  const perCore = raw.length / best(runs.merge)
  console.log(`throughput: ${raw.length} windows (${BULK_NODES} nodes x ${BULK_SECONDS} s, ${LABELS + 1} histograms each), best of 3, CPU seconds:`)
  console.log(`  JSON.parse only           ${best(runs.parse).toFixed(3)} s  (${Math.round(raw.length / best(runs.parse))} windows/s)`)
  console.log(`  raw decode (no merging)   ${best(runs.decode).toFixed(3)} s  (${Math.round(raw.length / best(runs.decode))} windows/s)`)
  console.log(`  merge (WindowMerger)      ${best(runs.merge).toFixed(3)} s  (${Math.round(perCore)} windows/s)`)
  console.log(`  merge / raw decode cost: ${(best(runs.merge) / best(runs.decode)).toFixed(2)}x`)
  console.log(`  => one core merges ${Math.round(perCore)} nodes in real time at 1 window/s (goal >= ${GOAL_NODES}; ${sink > 0 ? "" : "?"}${raw.length === windows + BULK_SECONDS ? "all windows read" : `read ${raw.length} of ${windows + BULK_SECONDS}`})`)
  if (perCore < GOAL_NODES) failed = true
} finally {
  await nats.close()
}
process.exit(failed ? 1 : 0)
