// `grid daemon --log-format json`: a real daemon over a real nats-server runs a test and is
// stopped; everything it printed is one JSON object a line with level, message and timestamp.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { spawnGrid } from "./support/gridProcess.ts"
import { tempWorkRoot } from "./support/memoryNode.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient
beforeAll(async () => {
  nats = await startNatsServer()
  client = await gridClient(nats.url)
}, 30_000)
afterAll(async () => {
  await client?.close()
  await nats?.close()
})

const parsedLines = (text: string) =>
  text.split("\n").filter((l) => l.length > 0).map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>
    } catch {
      throw new Error(`not a JSON line: ${line}`)
    }
  })

describe("grid daemon --log-format json", () => {
  it("prints only JSON lines, each with level, message and timestamp", async () => {
    const nodeId = "logjson-1"
    const d = spawnGrid(["daemon", "--nats-url", nats.url, "--node-id", nodeId, "--work-dir", tempWorkRoot(), "--heartbeat-interval", "500ms"], {
      GRID_LOG_FORMAT: "json"
    })
    try {
      await waitUntil(`heartbeat of ${nodeId}`, () => client.heartbeat(nodeId))
      await client.send(nodeId, { kind: "start", testId: "logjson-t1", tool: "command", params: { command: ["sh", "-c", "true"] } })
      await waitUntil("finished", () => client.eventsOf("logjson-t1").find((e) => e.kind === "finished"))
    } finally {
      expect(await d.stop()).toBe(0)
    }
    const lines = parsedLines(d.stdout())
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
    parsedLines(d.stderr())
  }, 60_000)

  it("says why it stops as a JSON line too", async () => {
    const d = spawnGrid(["daemon", "--log-format", "json", "--nats-url", "nats://127.0.0.1:1", "--node-id", "logjson-2", "--work-dir", tempWorkRoot()])
    expect(await d.exited).toBe(1)
    const [line, ...rest] = parsedLines(d.stderr())
    expect(rest).toEqual([])
    expect(line).toMatchObject({ level: "FATAL" })
    expect(String(line!.message)).toContain("cannot connect to NATS")
    expect(parsedLines(d.stdout())).toEqual([])
  }, 30_000)
})
