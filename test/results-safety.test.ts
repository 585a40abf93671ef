// A test's result file is read only if it is a regular file inside the test's own work
// directory: a tool that points it at a host file (a symlink to /etc/passwd) or at something
// that is not a file (a FIFO) fails with `results_invalid`, and nothing of it is published.
// Both runners: the process runner through an in-process daemon, the docker runner through a
// real `grid daemon` with a locally imported busybox image.
import { Duration } from "effect"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildBusyboxImage, removeImage } from "./fixtures/docker/busyboxImage.ts"
import { type InProcessDaemon, startDaemon } from "./support/daemon.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

let nats: NatsServer
let client: GridClient
let daemon: InProcessDaemon
let image: string | undefined
const node = "safe-res"
const writer = path.resolve(import.meta.dirname, "fixtures/jtl-writer.mjs")

beforeAll(async () => {
  nats = await startNatsServer()
  client = await gridClient(nats.url)
  daemon = await startDaemon(client, { natsUrl: nats.url, nodeId: node, resultsTimeout: Duration.seconds(10), capacity: 4 })
})
afterAll(async () => {
  await daemon?.stop()
  await client?.close()
  await nats?.close()
  if (image !== undefined) removeImage(image)
})

const terminalOf = (testId: string) =>
  waitUntil(`terminal event of ${testId}`, () => client.eventsOf(testId).find((e) => ["finished", "failed", "stopped"].includes(e.kind)), 60_000)

const expectInvalid = async (testId: string) => {
  const end = await terminalOf(testId)
  expect(end).toMatchObject({ kind: "failed", error: { code: "results_invalid" }, summary: null })
  expect((end.error as { message: string }).message).toMatch(/r\.jtl/)
  expect(JSON.stringify(end)).not.toContain("root:x:0:0")
  // Only empty windows (time passing, and the final one that tells a controller this node's
  // results are complete): no sample, nothing read from the file.
  const windows = await client.results(testId)
  expect(windows.flatMap((w) => w.labels)).toEqual([])
}

const sh = (script: string) => ["sh", "-c", script]

describe("result files through symlinks and special files", () => {
  it("process runner: a symlink to a host file fails results_invalid, whether the tool exits at once or keeps running", async () => {
    await client.send(node, { kind: "start", testId: "ln-quick", tool: "command", params: { command: sh("ln -s /etc/passwd r.jtl"), results: { path: "r.jtl", format: "jmeter" } } })
    await client.send(node, { kind: "start", testId: "ln-slow", tool: "command", params: { command: sh("ln -s /etc/passwd r.jtl; sleep 30"), results: { path: "r.jtl", format: "jmeter" } } })
    await client.send(node, { kind: "start", testId: "fifo", tool: "command", params: { command: sh("mkfifo r.jtl; sleep 30"), results: { path: "r.jtl", format: "jmeter" } } })
    await expectInvalid("ln-quick")
    await expectInvalid("ln-slow")
    await expectInvalid("fifo")
  })

  it("process runner: a symlink to a file inside the work directory is followed", async () => {
    await client.send(node, {
      kind: "start",
      testId: "ln-inside",
      tool: "command",
      params: { command: sh(`ln -s data.jtl r.jtl && exec "${process.execPath}" "${writer}" data.jtl 20 1`), results: { path: "r.jtl", format: "jmeter" } }
    })
    const end = await terminalOf("ln-inside")
    expect(end).toMatchObject({ kind: "finished", summary: { count: 20 } })
  })

  it("docker runner: a symlink made inside the container to /etc/passwd fails results_invalid", async () => {
    image = buildBusyboxImage()
    await waitUntil("docker runner available", async () => ((await client.heartbeat(node))?.runners as Array<string>).includes("docker") || undefined)
    await client.send(node, {
      kind: "start",
      testId: "ln-docker",
      tool: "command",
      runner: "docker",
      image,
      params: { command: sh("ln -s /etc/passwd /grid/work/r.jtl; sleep 2"), results: { path: "r.jtl", format: "jmeter" } }
    })
    await expectInvalid("ln-docker")
  })
})
