// Controller benchmark (issue 6): how many nodes one controller merges in real time on one
// core. A separate publisher process (this file with `publish`) sends realistic result windows
// (10 labels plus `*`, each with a real HdrHistogram) for many simulated node ids into
// GRID_RESULTS of its own nats-server.
// 1. Live, 200 nodes at 1 window/s each for a few seconds: the Controller's `results` stream into
//    the WindowMerger as a launch uses it; the merged count must equal the sum published, and
//    each second must be emitted soon after its windows arrive.
// 2. Throughput: windows of many nodes read once from the stream, then timed in this process:
//    the merge (parse + dedup + histogram decode + add + per-second emission) against its peers
//    measured in the same run: JSON.parse alone, hdr-histogram-js's decode of every histogram
//    (what the merge did before src/protocol/hdrWire.ts), and the same merge of the same windows
//    as older nodes wrote them (the library's compressed `hdr`, inflated by zlib).
//    Windows merged per CPU-second = nodes one core keeps up with at 1 window/s.
// Exits non-zero if the count is wrong or one core merges fewer than 5,000 nodes (issue 18).
// A thousand nodes followed live by a real `grid launch`: bench/launch.bench.ts.
import { DeliverPolicy, jetstream } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Stream } from "effect"
import { Controller } from "../src/controller/Controller.ts"
import { WindowMerger } from "../src/controller/Merger.ts"
import * as hdr from "hdr-histogram-js"
import { decodeHistogram, type ResultWindow } from "../src/protocol/results.ts"
import { LABELS, windowTemplates } from "./windowTemplates.ts"
import { startNatsServer } from "../test/support/natsServer.ts"

const LIVE_NODES = Number(process.env.GRID_BENCH_LIVE_NODES ?? 200)
const LIVE_SECONDS = Number(process.env.GRID_BENCH_LIVE_SECONDS ?? 6)
const BULK_NODES = Number(process.env.GRID_BENCH_BULK_NODES ?? 1000)
const BULK_SECONDS = Number(process.env.GRID_BENCH_BULK_SECONDS ?? 5)
const GOAL_NODES = 5000

// ---------------------------------------------------------------- publisher (child process)

const publish = async (url: string, testId: string, nodes: number, seconds: number, realtime: boolean) => {
  const nc = await connect({ servers: url })
  const js = jetstream(nc)
  const pool = windowTemplates(64)
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
  // The same windows with `hdr` as older nodes wrote it (re-encoded here, not timed).
  const older = raw.map((s) => {
    const w = JSON.parse(s) as ResultWindow
    return JSON.stringify({ ...w, labels: w.labels.map((l) => ({ ...l, hdr: hdr.encodeIntoCompressedBase64(decodeHistogram(l.hdr)) })) })
  })
  const mergeAll = (texts: ReadonlyArray<string>) => {
    const m = new WindowMerger([], { lagMs: 1500 })
    let now = 0
    let seq = -1
    for (const s of texts) {
      const w = JSON.parse(s) as ResultWindow
      if (w.seq !== seq) {
        seq = w.seq
        now += 1000
        m.tick(now)
      }
      m.add(w, now)
    }
    m.flush()
    return m.summary(false).total.count
  }
  const runs = { parse: [] as Array<number>, decode: [] as Array<number>, merge: [] as Array<number>, older: [] as Array<number> }
  const counts = new Set<number>()
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
    runs.merge.push(time(() => counts.add(mergeAll(raw))))
    runs.older.push(time(() => counts.add(mergeAll(older))))
  }
  const best = (xs: Array<number>) => Math.min(...xs)
  const perCore = raw.length / best(runs.merge)
  console.log(`throughput: ${raw.length} windows (${BULK_NODES} nodes x ${BULK_SECONDS} s, ${LABELS + 1} histograms each), best of 3, CPU seconds:`)
  console.log(`  JSON.parse only           ${best(runs.parse).toFixed(3)} s  (${Math.round(raw.length / best(runs.parse))} windows/s)`)
  console.log(`  hdr-histogram-js decode   ${best(runs.decode).toFixed(3)} s  (${Math.round(raw.length / best(runs.decode))} windows/s; parse + library decode, no merging: the old path's floor)`)
  console.log(`  merge (WindowMerger)      ${best(runs.merge).toFixed(3)} s  (${Math.round(perCore)} windows/s)`)
  console.log(`  merge, older nodes' hdr   ${best(runs.older).toFixed(3)} s  (${Math.round(raw.length / best(runs.older))} windows/s; zlib-compressed histograms)`)
  console.log(`  library decode / merge: ${(best(runs.decode) / best(runs.merge)).toFixed(1)}x; merged count the same in every run: ${counts.size === 1 ? "yes" : "NO"}`)
  console.log(`  => one core merges ${Math.round(perCore)} nodes in real time at 1 window/s (goal >= ${GOAL_NODES}; ${sink > 0 ? "" : "?"}${raw.length === windows + BULK_SECONDS ? "all windows read" : `read ${raw.length} of ${windows + BULK_SECONDS}`})`)
  if (perCore < GOAL_NODES || counts.size !== 1) failed = true
} finally {
  await nats.close()
}
process.exit(failed ? 1 : 0)
