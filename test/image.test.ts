// The container image (Dockerfile, FROM scratch, built by scripts/image.ts from dist/grid): a
// daemon in it, on the host's network and docker socket, runs a built-in engine test in its own
// container (process runner: `grid engine` is the image's grid) and one through the docker
// runner (a sibling container of the same image), both with exact counts against a target on
// 127.0.0.1; `docker stop` ends it with exit 0 and its heartbeat removed.
import { execFileSync, spawnSync } from "node:child_process"
import { chownSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureBinary } from "./support/binary.ts"
import { removeImage, requireDocker } from "./fixtures/docker/busyboxImage.ts"
import { type GridClient, gridClient, waitUntil } from "./support/gridClient.ts"
import { type NatsServer, startNatsServer } from "./support/natsServer.ts"

const root = join(import.meta.dirname, "..")
const tag = `grid-test-image:${process.pid}-${Date.now().toString(36)}`
const name = `grid-test-daemon-${process.pid}`
const node = "image-node"
let nats: NatsServer
let client: GridClient
let work: string
let target: Server
let served = 0
let port = 0

beforeAll(async () => {
  requireDocker()
  ensureBinary()
  const built = spawnSync(join(root, "node_modules/.bin/node"), [join(root, "scripts/image.ts"), "--tag", tag], { encoding: "utf8", timeout: 180_000 })
  if (built.status !== 0) throw new Error(`image build failed: ${built.stdout}${built.stderr}`)
  // The daemon runs as uid 10001; its work directory has the same path inside and outside.
  work = mkdtempSync(join(tmpdir(), "grid-image-work-"))
  chownSync(work, 10001, 10001)
  nats = await startNatsServer()
  client = await gridClient(nats.url)
  target = createServer((_req, res) => {
    served++
    res.end("ok")
  })
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve))
  port = (target.address() as { port: number }).port
}, 300_000)

afterAll(async () => {
  spawnSync("docker", ["rm", "-f", name], { stdio: "pipe" })
  if (tag) removeImage(tag)
  await client?.close()
  await nats?.close()
  await new Promise<void>((resolve) => (target ? target.close(() => resolve()) : resolve()))
  if (work) rmSync(work, { recursive: true, force: true })
})

const terminalOf = (testId: string) =>
  waitUntil(`terminal event of ${testId}`, () => client.eventsOf(testId).find((e) => ["finished", "failed", "stopped"].includes(e.kind)), 90_000)

const logs = () => spawnSync("docker", ["logs", name], { encoding: "utf8" })

const engineTest = async (testId: string, extra: Record<string, unknown>) => {
  const before = served
  const scenario = { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 30, durationSeconds: 2 } }
  await client.send(node, {
    kind: "start",
    testId,
    tool: "builtin",
    entry: "scenario.json",
    files: [{ path: "scenario.json", content: JSON.stringify(scenario) }],
    params: { target: `http://127.0.0.1:${port}` },
    ...extra
  })
  const done = await terminalOf(testId)
  expect(done.kind, `${JSON.stringify(done)}\n${logs().stdout}${logs().stderr}`).toBe("finished")
  const count = served - before
  expect(count).toBeGreaterThanOrEqual(40)
  expect(done.summary).toMatchObject({ count, errors: 0 })
  const windows = await client.results(testId)
  expect(windows.flatMap((w) => w.labels.filter((l) => l.label === "*")).reduce((n, l) => n + l.count, 0)).toBe(count)
}

describe("the grid image", () => {
  it("holds grid, its libraries, CA certificates and the docker CLI, and nothing to run anything else", () => {
    const files = execFileSync("sh", ["-c", `id=$(docker create ${tag}) && docker export "$id" | tar -t; docker rm "$id" >/dev/null`], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
      .split("\n").filter((f) => f !== "" && !f.endsWith("/"))
    expect(files).toEqual(expect.arrayContaining(["usr/local/bin/grid", "usr/local/bin/docker", "etc/ssl/certs/ca-certificates.crt"]))
    expect(files.some((f) => /(^|\/)(sh|bash|node)$/.test(f))).toBe(false)
  })

  it("runs a daemon that runs built-in engine tests in-container and through the docker runner", async () => {
    const gid = String(statSync("/var/run/docker.sock").gid)
    execFileSync("docker", [
      "run", "-d", "--init", "--name", name, "--network", "host",
      "-v", "/var/run/docker.sock:/var/run/docker.sock", "--group-add", gid,
      "-v", `${work}:${work}`,
      "-e", `GRID_NATS_URL=${nats.url}`, "-e", `GRID_NODE_ID=${node}`, "-e", `GRID_WORK_DIR=${work}`,
      tag, "daemon", "--heartbeat-interval", "500ms"
    ], { stdio: "pipe" })
    const hb = await waitUntil(`heartbeat of ${node}`, async () => {
      const state = execFileSync("docker", ["inspect", "-f", "{{.State.Running}}", name], { encoding: "utf8" }).trim()
      if (state !== "true") throw new Error(`the daemon container stopped: ${logs().stdout}${logs().stderr}`)
      return client.heartbeat(node)
    }, 60_000)
    expect(hb).toMatchObject({ version: "0.1.0" })
    expect(hb.runners).toEqual(expect.arrayContaining(["process", "docker"]))

    await engineTest("img-process", {})
    await engineTest("img-docker", { runner: "docker", image: tag })

    execFileSync("docker", ["stop", "-t", "30", name], { stdio: "pipe" })
    expect(execFileSync("docker", ["inspect", "-f", "{{.State.ExitCode}}", name], { encoding: "utf8" }).trim()).toBe("0")
    expect(await client.heartbeat(node)).toBeUndefined()
  }, 240_000)
})
