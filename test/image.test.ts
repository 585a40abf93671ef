// The container image (Dockerfile, FROM scratch, built by scripts/image.ts from dist/grid): a
// daemon in it, on the host's network and docker socket, runs a built-in engine test in its own
// container (process runner: `grid engine` is the image's grid) and one through the docker
// runner (a sibling container of the same image), both with exact counts against a target on
// 127.0.0.1; `docker stop` ends it with exit 0 and its heartbeat removed.
import { layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { chownSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect } from "vitest"
import { countingTarget } from "./fixtures/countingTarget.ts"
import { removeImage, requireDocker } from "./fixtures/docker/busyboxImage.ts"
import { ensureBinary } from "./support/binary.ts"
import { TestNats } from "./support/natsServer.ts"
import { waitUntil, WireClient } from "./support/WireClient.ts"

const root = join(import.meta.dirname, "..")
const name = `grid-test-daemon-${process.pid}`
const node = "image-node"

/** The image under test, built by scripts/image.ts from dist/grid; removed with the suite. */
class Image extends Context.Service<Image, string>()("test/image/Image") {
  static readonly layer = Layer.effect(Image, Effect.acquireRelease(
    Effect.gen(function*() {
      requireDocker()
      ensureBinary()
      const tag = `grid-test-image:${process.pid}-${Date.now().toString(36)}`
      const built = spawnSync(join(root, "node_modules/.bin/node"), [join(root, "scripts/image.ts"), "--tag", tag], { encoding: "utf8", timeout: 180_000 })
      if (built.status !== 0) return yield* Effect.die(new Error(`image build failed: ${built.stdout}${built.stderr}`))
      return tag
    }),
    (tag) => Effect.sync(() => removeImage(tag))
  ))
}
/** The daemon's work directory: uid 10001's (the daemon's), the same path inside and outside. */
class Work extends Context.Service<Work, string>()("test/image/Work") {
  static readonly layer = Layer.effect(Work, Effect.acquireRelease(
    Effect.sync(() => {
      const work = mkdtempSync(join(tmpdir(), "grid-image-work-"))
      chownSync(work, 10001, 10001)
      return work
    }),
    (work) => Effect.sync(() => rmSync(work, { recursive: true, force: true }))
  ))
}
class Target extends Context.Service<Target, { readonly url: string; readonly count: () => number }>()("test/image/Target") {
  static readonly layer = Layer.effect(Target, countingTarget)
}

const env = Layer.mergeAll(Image.layer, Work.layer, Target.layer, WireClient.layerNats.pipe(Layer.provideMerge(TestNats.layer())))

const terminalOf = (testId: string) => Effect.flatMap(WireClient, (client) => client.terminalOf(testId, "90 seconds"))

const logs = () => spawnSync("docker", ["logs", name], { encoding: "utf8" })

const engineTest = (testId: string, extra: Record<string, unknown>) =>
  Effect.gen(function*() {
    const client = yield* WireClient
    const target = yield* Target
    const before = target.count()
    const scenario = { target: "http://127.0.0.1:1", requests: [{ name: "home", path: "/home" }], load: { model: "open", rate: 30, durationSeconds: 2 } }
    yield* client.send(node, {
      kind: "start",
      testId,
      tool: "builtin",
      entry: "scenario.json",
      files: [{ path: "scenario.json", content: JSON.stringify(scenario) }],
      params: { target: target.url },
      ...extra
    })
    const done = yield* terminalOf(testId)
    expect(done.kind, `${JSON.stringify(done)}\n${logs().stdout}${logs().stderr}`).toBe("finished")
    const count = target.count() - before
    expect(count).toBeGreaterThanOrEqual(40)
    expect(done.summary).toMatchObject({ count, errors: 0 })
    const windows = yield* client.results(testId)
    expect(windows.flatMap((w) => w.labels.filter((l) => l.label === "*")).reduce((n, l) => n + l.count, 0)).toBe(count)
  })

describe("the grid image", () => {
  layer(env, { excludeTestServices: true, timeout: "300 seconds" })((it) => {
    it.effect("holds grid, its libraries, CA certificates and the docker CLI, and nothing to run anything else", () =>
      Effect.gen(function*() {
        const tag = yield* Image
        const files = execFileSync("sh", ["-c", `id=$(docker create ${tag}) && docker export "$id" | tar -t; docker rm "$id" >/dev/null`], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
          .split("\n").filter((f) => f !== "" && !f.endsWith("/"))
        expect(files).toEqual(expect.arrayContaining(["usr/local/bin/grid", "usr/local/bin/docker", "etc/ssl/certs/ca-certificates.crt"]))
        expect(files.some((f) => /(^|\/)(sh|bash|node)$/.test(f))).toBe(false)
      }))

    it.effect("runs a daemon that runs built-in engine tests in-container and through the docker runner", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        const nats = yield* TestNats
        const tag = yield* Image
        const work = yield* Work
        const gid = String(statSync("/var/run/docker.sock").gid)
        // The daemon's container, removed with the test's scope whatever happened.
        yield* Effect.acquireRelease(
          Effect.sync(() =>
            execFileSync("docker", [
              "run", "-d", "--init", "--name", name, "--network", "host",
              "-v", "/var/run/docker.sock:/var/run/docker.sock", "--group-add", gid,
              "-v", `${work}:${work}`,
              "-e", `GRID_NATS_URL=${nats.url}`, "-e", `GRID_NODE_ID=${node}`, "-e", `GRID_WORK_DIR=${work}`,
              tag, "daemon", "--heartbeat-interval", "500ms"
            ], { stdio: "pipe" })
          ),
          () => Effect.sync(() => spawnSync("docker", ["rm", "-f", name], { stdio: "pipe" }))
        )
        const hb = yield* waitUntil(`heartbeat of ${node}`, Effect.gen(function*() {
          const state = execFileSync("docker", ["inspect", "-f", "{{.State.Running}}", name], { encoding: "utf8" }).trim()
          if (state !== "true") return yield* Effect.die(new Error(`the daemon container stopped: ${logs().stdout}${logs().stderr}`))
          return yield* client.heartbeat(node)
        }), "60 seconds")
        expect(hb).toMatchObject({ version: "0.1.0" })
        expect(hb.runners).toEqual(expect.arrayContaining(["process", "docker"]))

        yield* engineTest("img-process", {})
        yield* engineTest("img-docker", { runner: "docker", image: tag })

        execFileSync("docker", ["stop", "-t", "30", name], { stdio: "pipe" })
        expect(execFileSync("docker", ["inspect", "-f", "{{.State.ExitCode}}", name], { encoding: "utf8" }).trim()).toBe("0")
        expect(yield* client.heartbeat(node)).toBeUndefined()
      }), 240_000)
  })
})
