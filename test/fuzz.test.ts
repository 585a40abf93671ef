// Property-based fuzzing of a real `grid daemon` process over a real nats-server: 10,000
// control messages, commands derived from the protocol's own Schemas (effect's Arbitrary) mixed
// with hostile ones (deep nesting at every position, huge strings, invalid UTF-8, wrong types,
// truncated JSON, duplicate command ids). The node must stay up and healthy, answer every
// message exactly once (a duplicate of a decided command id is, by the protocol, not answered
// again), and stay within a memory bound. The seed is printed; GRID_FUZZ_SEED replays a run.
import { layer } from "@effect/vitest"
import { Arbitrary, Context, Effect, Layer, Result } from "effect"
import * as fs from "node:fs"
import { describe, expect } from "vitest"
import { decodeCommand } from "../src/control/decodeCommand.ts"
import { commandSchemas } from "../src/protocol/commands.ts"
import { type DaemonProcess, spawnDaemonScoped } from "./support/daemonProcess.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const TOTAL = Number(process.env.GRID_FUZZ_TOTAL ?? 10_000)
const SEED = Number(process.env.GRID_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const node = "fuzz-1"

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

interface Message {
  readonly data: Uint8Array
  /** false for a re-send of an already decided command id: the node ignores it, by design. */
  readonly answered: boolean
}

const encoder = new TextEncoder()
const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return m ? Number(m[1]) / 1024 : 0
}

const generate = Effect.fnUntraced(function*(seed: number) {
  const rnd = prng(seed)
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(rnd() * xs.length)]!
  const derived = {
    start: yield* Arbitrary.sampleEffect(Arbitrary.schema(commandSchemas.start), { count: 2500, seed }),
    stop: yield* Arbitrary.sampleEffect(Arbitrary.schema(commandSchemas.stop), { count: 1250, seed: seed + 1 }),
    go: yield* Arbitrary.sampleEffect(Arbitrary.schema(commandSchemas.go), { count: 1250, seed: seed + 2 })
  }
  const out: Array<Message> = []
  const decided: Array<Record<string, unknown>> = []
  let n = 0
  const id = () => `fz-${n++}`
  const json = (v: unknown, answered = true): Message => ({ data: encoder.encode(JSON.stringify(v)), answered })
  const raw = (s: string): Message => ({ data: encoder.encode(s), answered: true })

  for (const c of derived.start) {
    const valid = rnd() < 0.02
    // A few are made runnable (a quick `command`); the rest are whatever the Schema allows,
    // with a unique command id so every answer can be matched.
    out.push(json(valid
      ? { kind: "start", commandId: id(), testId: `ok-${n}`, tool: "command", params: { command: ["true"] } }
      : { ...c, commandId: id() }))
  }
  for (const c of [...derived.stop, ...derived.go]) {
    const command = { ...c, commandId: id() }
    const message = json(command)
    // Only a command the node decides is remembered (a NaN that JSON turns into null is not):
    // its repeats are the ones it ignores.
    if (Result.isSuccess(decodeCommand(message.data, 262144))) decided.push(command)
    out.push(message)
  }

  const deep = (depth: number, open: string, close: string, inner: string) => `${open.repeat(depth)}${inner}${close.repeat(depth)}`
  const fields = ["kind", "commandId", "testId", "tool", "params", "env", "files", "labels", "limits", "startAt", "entry"]
  const others = fields.filter((f) => f !== "commandId")
  const hostile: Array<() => Message> = [
    // Deep nesting at every position, arrays and objects, under and over the limit.
    () => {
      const f = pick(fields)
      const d = pick([33, 200, 5000, 20000])
      const v = rnd() < 0.5 ? deep(d, "[", "]", "1") : deep(d, "{\"a\":", "}", "1")
      return raw(`{"kind":"start","commandId":"${id()}","testId":"deep-${n}","tool":"command",${JSON.stringify(f)}:${v}}`)
    },
    () => raw(deep(pick([40, 5000, 50000]), "[", "]", "")),
    // Huge strings in any field: under and over the node's 256 KB command limit (NATS's own
    // 1 MB payload limit bounds what can be sent at all).
    () => {
      const size = rnd() < 0.9 ? Math.floor(rnd() * 4000) : Math.floor(100_000 + rnd() * 400_000)
      return json({ kind: "start", commandId: id(), testId: "huge", tool: "command", [pick(others)]: "\"".repeat(size) })
    },
    // Invalid UTF-8, empty, truncated, not an object, control bytes.
    () => ({ data: new Uint8Array([0x7b, 0x22, 0x6b, 0xff, 0xfe, 0x22, 0x7d]), answered: true }),
    () => raw(""),
    () => raw(JSON.stringify({ kind: "stop", commandId: id(), testId: "t" }).slice(0, Math.floor(rnd() * 30))),
    () => raw(pick(["null", "42", "\"start\"", "[]", "true", "{}"])),
    () => ({ data: Uint8Array.from({ length: 64 }, () => Math.floor(rnd() * 256)), answered: true }),
    // Wrong types in every field.
    () => json({ kind: "start", commandId: id(), testId: `wt-${n}`, tool: "command", [pick(others)]: pick([5, -1, null, true, [], {}, [[[]]], 1e308, "x"]) }),
    // A command id that is no id (a valid one would be remembered, and its repeats ignored).
    () => json({ kind: "stop", testId: "t", commandId: pick([5, null, [], {}, "", "x".repeat(129)]) }),
    () => json({ kind: pick([5, null, {}, [], "START", "drain2"]), commandId: id(), testId: "k" }),
    // Path and env tricks.
    () => json({ kind: "start", commandId: id(), testId: `p-${n}`, tool: "command", params: { command: ["true"] }, files: [{ path: pick(["../x", "/etc/x", "a/../../b", "", "\u0000", "a\\..\\..\\b"]), content: "x" }] }),
    () => json({ kind: "start", commandId: id(), testId: `e-${n}`, tool: "command", params: { command: ["true"] }, env: { [pick(["A=B", "", "\u0000"])]: "v" } }),
    // Duplicates of a decided command id: not answered a second time.
    () => ({ ...json(pick(decided)), answered: false })
  ]
  while (out.length < TOTAL) out.push(pick(hostile)())
  // Shuffled, so hostile and derived messages interleave (Fisher-Yates on the seeded PRNG);
  // a duplicate is moved after its original so that the original is decided first.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return [...out.filter((m) => m.answered), ...out.filter((m) => !m.answered)]
})

/** The daemon under fuzz: a real process of the suite, up once its heartbeat is read. */
class FuzzDaemon extends Context.Service<FuzzDaemon, DaemonProcess>()("test/fuzz/FuzzDaemon") {
  static readonly layer = Layer.effect(FuzzDaemon, Effect.gen(function*() {
    const nats = yield* TestNats
    const client = yield* WireClient
    const daemon = yield* spawnDaemonScoped([
      "--nats-url", nats.url, "--node-id", node, "--work-dir", tempWorkRoot(),
      "--capacity", "2", "--heartbeat-interval", "1s", "--stop-grace", "1s", "--max-command-bytes", "262144"
    ])
    yield* waitUntil("the daemon's heartbeat", client.heartbeat(node)).pipe(Effect.orDie)
    return daemon
  }))
}

const env = FuzzDaemon.layer.pipe(Layer.provideMerge(WireClient.layerNats), Layer.provideMerge(TestNats.layer()))
const terminal = ["finished", "failed", "stopped"]

describe(`fuzzing a real daemon with ${TOTAL} commands (seed ${SEED})`, () => {
  layer(env, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("stays up and healthy, answers every command exactly once, and stays within its memory bound", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const daemon = yield* FuzzDaemon
        const messages = yield* generate(SEED)
        const pid = daemon.child.pid!
        const before = rssMb(pid)
        for (const m of messages) yield* client.sendRaw(node, m.data)
        const expected = messages.filter((m) => m.answered).length
        // Every message's first answer is `rejected` or `accepted`.
        const answers = Effect.map(client.events, (all) => all.filter((e) => e.nodeId === node && (e.kind === "rejected" || e.kind === "accepted")))
        yield* waitUntil(`${expected} answers`, Effect.map(answers, (a) => a.length >= expected), "240 seconds").pipe(
          Effect.catchTag("WaitTimedOut", (e) =>
            Effect.gen(function*() {
              // Which messages went unanswered: the node's own decoder tells which id each answer carries.
              const got = yield* answers
              const ids = new Set(got.map((a) => a.commandId))
              const missing = messages.filter((m) => m.answered).filter((m) => {
                const d = decodeCommand(m.data, 262144)
                const id = Result.isSuccess(d) ? d.success.commandId : d.failure.commandId
                return id !== undefined && !ids.has(id)
              })
              const events = (yield* client.events).length
              return yield* Effect.die(new Error(`${e.message}: got ${got.length} of ${expected}; ${events} events; daemon exit ${daemon.child.exitCode}; unanswered: ${missing.slice(0, 10).map((m) => Buffer.from(m.data).toString("utf8").slice(0, 300)).join("\n")}`))
            }))
        )
        // A little longer: an extra answer (a duplicate answered twice) would show up now.
        yield* Effect.sleep("1500 millis")
        const all = yield* answers
        expect(all.length).toBe(expected)
        const ids = all.map((e) => e.commandId).filter((c): c is string => c !== undefined)
        expect(new Set(ids).size).toBe(ids.length)
        // Every accepted test ends with exactly one terminal event.
        const accepted = all.filter((e) => e.kind === "accepted").map((e) => e.testId!)
        expect(accepted.length).toBeGreaterThan(0)
        for (const t of accepted) {
          yield* waitUntil(`terminal event of ${t}`, Effect.map(client.eventsOf(t), (es) => es.some((e) => terminal.includes(e.kind))), "60 seconds")
        }
        for (const t of accepted) {
          expect((yield* client.eventsOf(t)).filter((e) => terminal.includes(e.kind)).length).toBe(1)
        }
        // No event carries a stack trace or a long echo of its input; every one reads as an event.
        for (const text of yield* client.texts) {
          expect(text).not.toMatch(/\bat (file:\/\/|\/).*:\d+:\d+/)
          expect(text.length).toBeLessThan(4000)
        }
        expect(yield* client.undecodable).toEqual([])
        // Its log says something bounded about each rejected message, never the message itself.
        const lines = daemon.output().split("\n")
        expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(1000)
        expect(daemon.output().length).toBeLessThan(messages.length * 600)
        // Up, healthy, and within its memory bound.
        expect(daemon.child.exitCode).toBeNull()
        const hb = yield* waitUntil(
          "a fresh healthy heartbeat",
          Effect.map(client.heartbeat(node), (h) => (h?.healthy === true && h.state === "idle" ? h : undefined)),
          "30 seconds"
        )
        expect(hb.outbox?.events.dropped).toBe(0)
        const after = rssMb(pid)
        console.log(`fuzz seed ${SEED}: ${messages.length} messages, ${expected} answers, ${accepted.length} tests ran, RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MB`)
        expect(after).toBeLessThan(before + 150)
      }), 300_000)
  })
})
