// `grid daemon --log-format json`: a real daemon over a real nats-server runs a test and is
// stopped; everything it printed is one JSON object a line with level, message and timestamp.
import { layer } from "@effect/vitest"
import { Effect, Layer, Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { spawnGrid } from "./support/gridCli.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const env = WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer()))

const readLine = Schema.decodeUnknownResult(Schema.fromJsonString(Schema.Record(Schema.String, Schema.Unknown)))
/** Every non-empty line, each read as one JSON object (the test dies on the first that is not). */
const parsedLines = (text: string) =>
  Effect.forEach(text.split("\n").filter((l) => l.length > 0), (line) => {
    const read = readLine(line)
    return Result.isSuccess(read) ? Effect.succeed(read.success) : Effect.die(new Error(`not a JSON line: ${line}`))
  })

describe("grid daemon --log-format json", () => {
  layer(env, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    it.effect("prints only JSON lines, each with level, message and timestamp", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const nodeId = "logjson-1"
        const d = yield* spawnGrid(["daemon", "--nats-url", nats.url, "--node-id", nodeId, "--work-dir", tempWorkRoot(), "--heartbeat-interval", "500ms"], {
          GRID_LOG_FORMAT: "json"
        })
        yield* waitUntil(`heartbeat of ${nodeId}`, client.heartbeat(nodeId))
        yield* client.send(nodeId, { kind: "start", testId: "logjson-t1", tool: "command", params: { command: ["sh", "-c", "true"] } })
        yield* client.waitEvent("logjson-t1", "finished")
        d.child.kill("SIGTERM")
        expect(yield* d.exited).toBe(0)
        const lines = yield* parsedLines(d.stdout())
        expect(lines.length).toBeGreaterThanOrEqual(2)
        for (const l of lines) {
          expect(typeof l.level).toBe("string")
          expect(l.message).toBeDefined()
          expect(Number.isNaN(Date.parse(String(l.timestamp)))).toBe(false)
        }
        const messages = lines.map((l) => String(l.message))
        expect(messages.some((m) => m.includes(`grid node ${nodeId} up`))).toBe(true)
        expect(messages.some((m) => m.includes(`grid node ${nodeId} stopped`))).toBe(true)
        // Nothing else on stderr but JSON lines either.
        yield* parsedLines(d.stderr())
      }), 60_000)

    it.effect("says why it stops as a JSON line too", () =>
      Effect.gen(function*() {
        const d = yield* spawnGrid(["daemon", "--log-format", "json", "--nats-url", "nats://127.0.0.1:1", "--node-id", "logjson-2", "--work-dir", tempWorkRoot()])
        expect(yield* d.exited).toBe(1)
        const [line, ...rest] = yield* parsedLines(d.stderr())
        expect(rest).toEqual([])
        expect(line).toMatchObject({ level: "FATAL" })
        expect(String(line!.message)).toContain("cannot connect to NATS")
        expect(yield* parsedLines(d.stdout())).toEqual([])
      }), 30_000)
  })
})
