// A fleet of simulated nodes in one process, speaking the real protocol on a real NATS
// (docs/protocol.md) so one `grid launch` can follow a thousand of them on a two-core machine:
// each node's heartbeat in KV grid_nodes (listing its test while it runs), its commands read from
// GRID_CONTROL (start -> accepted [+ ready at a barrier]; go -> started, one result window a
// second with 10 labels plus `*`, each with a real HdrHistogram, the last `final`, then
// finished with the summary of what it published; stop -> stopped), events on GRID_EVENTS and
// windows on GRID_RESULTS with their Nats-Msg-Id. What is cheap here and not in a daemon: one
// consumer over every node's command subject, window bodies cut from 64 precomputed templates.
// `node bench/fleet.ts <natsUrl> <nodes>`: prints `{"ready":true}` once every heartbeat is up,
// then at the end `{"total", "windows", "publishedAt"}` (per seq, when its last window was
// acknowledged, epoch ms). Exits when every started node has ended and SIGTERM is received,
// or on its own 30 s after the last node ended.
import { DeliverPolicy, jetstream } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { heartbeatOf } from "../test/support/simulatedNode.ts"
import { windowTemplates } from "./windowTemplates.ts"

const [url, nodesArg] = process.argv.slice(2)
const NODES = Number(nodesArg ?? 1000)
/** A daemon's default --heartbeat-interval. */
const HEARTBEAT_MS = 5000

interface Sim {
  readonly nodeId: string
  test: { testId: string; commandId: string; seconds: number; goAt: number; seq: number } | undefined
}

const nc = await connect({ servers: url!, maxReconnectAttempts: -1 })
const js = jetstream(nc)
const enc = new TextEncoder()
const pool = windowTemplates(64)
const nodes = new Map<string, Sim>()
for (let n = 0; n < NODES; n++) {
  const nodeId = `sim-${String(n).padStart(4, "0")}`
  nodes.set(nodeId, { nodeId, test: undefined })
}
const startedAt = new Date().toISOString()
// A KV put is a publish on the bucket's subject; without waiting for each acknowledgement a
// starved simulator still beats on time (a late beat would make the launch see a lost node).
const beat = (s: Sim) =>
  nc.publish(`$KV.grid_nodes.${s.nodeId}`, JSON.stringify({ ...heartbeatOf(s.nodeId, s.test ? [s.test.testId] : [], new Date().toISOString()), tools: ["command"], startedAt }))
const all = [...nodes.values()]
for (const s of all) beat(s)
await nc.flush()
// Every node every HEARTBEAT_MS, spread evenly over the interval.
const slice = Math.ceil(all.length / (HEARTBEAT_MS / 100))
let next = 0
const beats = setInterval(() => {
  for (let i = 0; i < slice; i++) beat(all[next++ % all.length]!)
}, 100)

const event = (s: Sim, testId: string, commandId: string, kind: string, fields: object = {}) =>
  js.publish(`grid.events.${testId}.${s.nodeId}`, enc.encode(JSON.stringify({ kind, testId, nodeId: s.nodeId, commandId, at: new Date().toISOString(), ...fields })))

let total = 0
let windows = 0
const publishedAt: Array<number> = []
const perNodeTotal = new Map<string, number>()
let running = 0
let ended = 0
let lastEndAt = 0

const begin = (s: Sim) => {
  const t = s.test!
  t.goAt = Date.now()
  running++
  void event(s, t.testId, t.commandId, "started", { pid: 4242 })
}

const finish = async (s: Sim) => {
  const t = s.test!
  const count = perNodeTotal.get(s.nodeId) ?? 0
  s.test = undefined
  running--
  ended++
  lastEndAt = Date.now()
  await event(s, t.testId, t.commandId, "finished", {
    exitCode: 0,
    summary: { count, errors: 0, bytesIn: count * 1200, durationMs: t.seconds * 1000, rps: count / t.seconds, latencyMs: { min: 1, mean: 5, p50: 5, p90: 9, p95: 11, p99: 20, max: 40 } },
    cleanup: { ok: true, removed: [], errors: [] }
  })
  beat(s)
}

// Windows: each node's window `seq` covers [goAt + seq s, goAt + (seq+1) s) and is published
// 500 ms after its end, as the built-in engine does.
const inFlight = new Set<Promise<unknown>>()
const tick = () => {
  const now = Date.now()
  for (const s of nodes.values()) {
    const t = s.test
    if (t === undefined || t.goAt === 0 || t.seq >= t.seconds) continue
    const start = t.goAt + t.seq * 1000
    if (now < start + 1500) continue
    const seq = t.seq++
    const tpl = pool[(Number(s.nodeId.slice(4)) * 31 + seq * 7) % pool.length]!
    const final = seq === t.seconds - 1
    total += tpl.count
    windows++
    perNodeTotal.set(s.nodeId, (perNodeTotal.get(s.nodeId) ?? 0) + tpl.count)
    const body = `{"testId":"${t.testId}","nodeId":"${s.nodeId}","seq":${seq},"start":${start},"end":${start + 1000},"labels":${tpl.labels},"final":${final}}`
    const p = js.publish(`grid.results.${t.testId}.${s.nodeId}`, enc.encode(body), { msgID: `${t.testId}.${s.nodeId}.${seq}`, timeout: 30_000 })
      .then(() => {
        publishedAt[seq] = Math.max(publishedAt[seq] ?? 0, Date.now())
        if (final) return finish(s)
      })
    inFlight.add(p)
    void p.finally(() => inFlight.delete(p))
  }
}
const ticker = setInterval(tick, 50)

const done = async () => {
  clearInterval(ticker)
  clearInterval(beats)
  await Promise.allSettled([...inFlight])
  process.stdout.write(`${JSON.stringify({ total, windows, publishedAt })}\n`)
  await nc.drain()
  process.exit(0)
}
process.on("SIGTERM", () => void done())
setInterval(() => {
  if (ended > 0 && running === 0 && Date.now() - lastEndAt > 30_000) void done()
}, 1000)

const consumer = await js.consumers.get("GRID_CONTROL", { filter_subjects: "grid.control.node.>", deliver_policy: DeliverPolicy.New })
const messages = await consumer.consume({ max_messages: 1000 })
process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
for await (const m of messages) {
  const s = nodes.get(m.subject.split(".").at(-1)!)
  if (s === undefined) continue
  const c = JSON.parse(m.string()) as { kind: string; testId: string; commandId: string; barrier?: boolean; params?: { durationSeconds?: number } }
  switch (c.kind) {
    case "start": {
      s.test = { testId: c.testId, commandId: c.commandId, seconds: c.params?.durationSeconds ?? 60, goAt: 0, seq: 0 }
      beat(s)
      void event(s, c.testId, c.commandId, "accepted", { runner: "process", tool: "command" })
      if (c.barrier === true) void event(s, c.testId, c.commandId, "ready")
      else begin(s)
      break
    }
    case "go":
      if (s.test?.testId === c.testId && s.test.goAt === 0) begin(s)
      break
    case "stop":
      if (s.test?.testId === c.testId) {
        const t = s.test
        s.test = undefined
        running--
        ended++
        lastEndAt = Date.now()
        void event(s, t.testId, c.commandId, "stopped", { reason: "stop", cleanup: { ok: true, removed: [], errors: [] }, summary: null })
        beat(s)
      }
      break
  }
}
