// The docker backend beyond the shared conformance suite: the container's settings (labels,
// name, mount, host network, init, dropped capabilities, limits, env values out of argv),
// typed errors with the CLI's own words (daemon down, CLI missing, image missing, a flag the
// CLI does not know, a run that created a container and then failed), and the orphan sweep
// after a SIGKILLed holder (its container, its process-runner tool, its work directory).
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, describe, layer } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import type { LaunchSpec } from "../src/runner/Backend.ts"
import { containerGone, DockerBackend, nodeLabel, testLabel } from "../src/runner/DockerBackend.ts"
import { DockerCli } from "../src/runner/DockerCli.ts"
import { OrphanSweep } from "../src/runner/OrphanSweep.ts"
import { buildBusyboxImage, containersWithLabel, removeImage } from "./fixtures/docker/busyboxImage.ts"

class Image extends Context.Service<Image, string>()("test/Image") {}

const imageLayer = Layer.effect(
  Image,
  Effect.acquireRelease(Effect.sync(buildBusyboxImage), (tag) => Effect.sync(() => removeImage(tag)))
)
const backendWith = (cli: { bin?: string; env?: Record<string, string> } = {}) =>
  DockerBackend.layer({ forcedGrace: "1 second" }).pipe(Layer.provide(DockerCli.layer(cli)), Layer.provide(NodeServices.layer))

const nodeId = `dnode-${process.pid}`
const workRoot = mkdtempSync(join(tmpdir(), "grid-dock-"))
afterAll(() => rmSync(workRoot, { recursive: true, force: true }))
let n = 0
const spec = (image: string, extra: Partial<LaunchSpec> = {}): LaunchSpec => ({
  testId: `dt-${process.pid}-${++n}`,
  nodeId,
  workDir: mkdtempSync(join(workRoot, "w-")),
  argv: ["sleep", "30"],
  env: {},
  image,
  ...extra
})

/**
 * Starts a holder script (a stand-in for a daemon), waits for its `started ...` line, then
 * SIGKILLs it so none of its finalizers run; returns the words after `started`.
 */
const holdThenSigkill = (fixture: string, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const holder = spawn(process.execPath, [join(import.meta.dirname, "fixtures", fixture), ...args], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    const words = yield* Effect.callback<Array<string>>((resume) => {
      let out = ""
      holder.stdout!.on("data", (d) => {
        out += d
        const m = /started ([^\n]+)\n/.exec(out)
        if (m) resume(Effect.succeed(m[1]!.split(" ")))
      })
      holder.on("exit", (code) => resume(Effect.die(new Error(`holder exited (${code}) before starting: ${out}`))))
    }).pipe(Effect.timeout("30 seconds"))
    holder.kill("SIGKILL")
    yield* Effect.callback<void>((resume) => {
      if (holder.exitCode !== null || holder.signalCode !== null) resume(Effect.void)
      else holder.on("exit", () => resume(Effect.void))
    })
    return words
  })

/** Alive = exists and is not a zombie waiting for a slow PID 1. */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
  } catch {
    return false
  }
}

const inspect = (id: string) => JSON.parse(execFileSync("docker", ["inspect", id], { encoding: "utf8" }))[0]

/** A fake `docker` that answers like a CLI too old for a flag we pass. */
const fakeOldCli = () => {
  const dir = mkdtempSync(join(workRoot, "fake-docker-"))
  const bin = join(dir, "docker")
  writeFileSync(bin, `#!/bin/sh
case "$1" in
  image) exit 0 ;;
  run) echo "unknown flag: --pids-limit" >&2; echo "See 'docker run --help'." >&2; exit 125 ;;
  *) exit 1 ;;
esac
`)
  chmodSync(bin, 0o755)
  return bin
}

describe("docker backend", () => {
  layer(Layer.mergeAll(imageLayer, backendWith(), DockerCli.layer().pipe(Layer.provide(NodeServices.layer))), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })((it) => {
    it.effect("runs the container with grid's labels, mount, host network, init, no capabilities and the limits", () =>
      Effect.gen(function*() {
        const image = yield* Image
        const backend = yield* DockerBackend
        const s = spec(image, { env: { GRID_SECRET: "s3cret" }, limits: { cpus: 0.5, memoryMb: 64 } })
        const id = yield* Effect.scoped(Effect.gen(function*() {
          const running = yield* backend.launch(s)
          assert.isTrue("containerId" in running.ref)
          const id = (running.ref as { containerId: string }).containerId
          assert.isFalse(yield* containerGone(id))
          const cidfiles = readdirSync(s.workDir).filter((f) => /^\.grid-[0-9a-f]{8}\.cid$/.test(f))
          assert.strictEqual(cidfiles.length, 1)
          assert.strictEqual(readFileSync(join(s.workDir, cidfiles[0]!), "utf8").trim(), id)
          const info = inspect(id)
          assert.strictEqual(info.Config.Labels[nodeLabel], nodeId)
          assert.strictEqual(info.Config.Labels[testLabel], s.testId)
          assert.match(info.Name, new RegExp(`^/grid-${nodeId}-${s.testId}-[0-9a-f]{8}$`))
          assert.strictEqual(info.HostConfig.NetworkMode, "host")
          assert.isTrue(info.HostConfig.Init)
          assert.isFalse(info.HostConfig.Privileged)
          assert.deepStrictEqual(info.HostConfig.CapDrop, ["ALL"])
          assert.include(info.HostConfig.SecurityOpt, "no-new-privileges")
          assert.strictEqual(info.HostConfig.NanoCpus, 500_000_000)
          assert.strictEqual(info.HostConfig.Memory, 64 * 1024 * 1024)
          assert.isAbove(info.HostConfig.PidsLimit, 0)
          assert.deepStrictEqual(info.Mounts.map((m: { Source: string; Destination: string }) => [m.Source, m.Destination]), [[s.workDir, "/grid/work"]])
          assert.include(info.Config.Env, "GRID_SECRET=s3cret")
          // The value went through the CLI's environment, not its argv (which `ps` shows).
          assert.notInclude(JSON.stringify(info.Args) + info.Path, "s3cret")
          return id
        }))
        assert.deepStrictEqual(containersWithLabel(`${testLabel}=${s.testId}`), [])
        assert.isTrue(yield* containerGone(id))
        assert.deepStrictEqual(readdirSync(s.workDir), [], "the cidfile is removed with the container")
      }))

    it.effect("a work directory whose path holds `,`, `:` and `\"` is mounted as it is", () =>
      Effect.gen(function*() {
        const image = yield* Image
        const workDir = mkdtempSync(join(workRoot, 'odd,na:me"-'))
        const s = spec(image, { workDir, argv: ["touch", "made-in-container"] })
        const exit = yield* Effect.scoped(Effect.flatMap((yield* DockerBackend).launch(s), (r) => r.exit))
        assert.strictEqual(exit.exitCode, 0)
        assert.isTrue(existsSync(join(workDir, "made-in-container")))
      }))

    it.effect("an environment name docker cannot pass is a LaunchError, before anything is created", () =>
      Effect.gen(function*() {
        const s = spec(yield* Image, { env: { "A=B": "x" } })
        const err = yield* Effect.scoped((yield* DockerBackend).launch(s)).pipe(Effect.flip)
        assert.strictEqual(err.code, "launch_failed")
        assert.include(err.message, "A=B")
        assert.deepStrictEqual(containersWithLabel(`${testLabel}=${s.testId}`), [])
      }))

    it.effect("a missing image is image_missing and creates nothing", () =>
      Effect.gen(function*() {
        const backend = yield* DockerBackend
        const s = spec("grid-no-such-image:never")
        const err = yield* Effect.scoped(backend.launch(s)).pipe(Effect.flip)
        assert.strictEqual(err.code, "image_missing")
        assert.include(err.message, "grid-no-such-image:never")
        assert.deepStrictEqual(containersWithLabel(`${testLabel}=${s.testId}`), [])
      }))

    it.effect("the backend is available while the engine answers", () =>
      Effect.gen(function*() {
        assert.isTrue(yield* (yield* DockerBackend).available)
      }))
  })

  // `--user` is resolved when the container starts, after `docker run` has created it.
  layer(
    Layer.mergeAll(
      imageLayer,
      DockerBackend.layer({ forcedGrace: "1 second", user: "no-such-user" }).pipe(Layer.provide(DockerCli.layer()), Layer.provide(NodeServices.layer))
    ),
    { excludeTestServices: true, timeout: "60 seconds" }
  )((it) => {
    it.effect("a run that creates the container and then fails is a LaunchError with docker's message, and is removed", () =>
      Effect.gen(function*() {
        const s = spec(yield* Image)
        const err = yield* Effect.scoped((yield* DockerBackend).launch(s)).pipe(Effect.flip)
        assert.strictEqual(err.code, "docker_failed")
        assert.include(err.message, "unable to find user no-such-user")
        assert.deepStrictEqual(containersWithLabel(`${testLabel}=${s.testId}`), [])
      }))
  })

  layer(backendWith({ bin: "/nonexistent/bin/docker" }), { excludeTestServices: true })((it) => {
    it.effect("without a docker CLI: not available, and a launch is docker_unavailable", () =>
      Effect.gen(function*() {
        const backend = yield* DockerBackend
        assert.isFalse(yield* backend.available)
        const err = yield* Effect.scoped(backend.launch(spec("any:1"))).pipe(Effect.flip)
        assert.strictEqual(err.code, "docker_unavailable")
        assert.include(err.message, "/nonexistent/bin/docker")
      }))
  })

  layer(backendWith({ bin: fakeOldCli() }), { excludeTestServices: true })((it) => {
    it.effect("a CLI too old for a flag is docker_cli_unsupported with the CLI's own message", () =>
      Effect.gen(function*() {
        const err = yield* Effect.scoped((yield* DockerBackend).launch(spec("any:1"))).pipe(Effect.flip)
        assert.strictEqual(err.code, "docker_cli_unsupported")
        assert.include(err.message, "unknown flag: --pids-limit")
      }))
  })

  layer(backendWith({ env: { DOCKER_HOST: `unix://${join(tmpdir(), `grid-no-dockerd-${process.pid}.sock`)}` } }), {
    excludeTestServices: true
  })((it) => {
    it.effect("with the engine down: not available, and a launch is docker_unavailable with the CLI's message", () =>
      Effect.gen(function*() {
        const backend = yield* DockerBackend
        assert.isFalse(yield* backend.available)
        const err = yield* Effect.scoped(backend.launch(spec("any:1"))).pipe(Effect.flip)
        assert.strictEqual(err.code, "docker_unavailable")
        assert.match(err.message, /Cannot connect to the Docker daemon/)
      }))
  })
})

describe("orphan sweep", () => {
  layer(
    Layer.mergeAll(imageLayer, OrphanSweep.layer.pipe(Layer.provide(DockerCli.layer()), Layer.provide(NodeServices.layer))),
    { excludeTestServices: true, timeout: "60 seconds" }
  )((it) => {
    it.effect("after a SIGKILLed holder, removes its container and work directory, and keeps what running tests own", () =>
      Effect.gen(function*() {
        const image = yield* Image
        const sweeper = yield* OrphanSweep
        const node = `sweep-${process.pid}`
        const root = mkdtempSync(join(tmpdir(), "grid-sweep-root-"))
        // A holder process launches through DockerBackend, then dies without finalizers.
        const [started] = yield* holdThenSigkill("docker/holdContainer.ts", [node, "killed", root, image])
        assert.deepStrictEqual(containersWithLabel(`${testLabel}=killed`).map((id) => started!.startsWith(id)), [true], "the container outlived its holder")
        // A running test of this node, and another node's container: both must stay.
        const keep = execFileSync("docker", ["run", "-d", "--label", `${nodeLabel}=${node}`, "--label", `${testLabel}=keep`, image, "sleep", "30"], { encoding: "utf8" }).trim()
        const other = execFileSync("docker", ["run", "-d", "--label", `${nodeLabel}=other-${node}`, "--label", `${testLabel}=killed`, image, "sleep", "30"], { encoding: "utf8" }).trim()
        mkdirSync(join(root, "keep"))
        writeFileSync(join(root, "not-a-dir"), "x")
        try {
          const report = yield* sweeper.sweep({ nodeId: node, running: new Set(["keep"]), workRoot: root })
          assert.deepStrictEqual(report.errors, [])
          assert.strictEqual(report.removed.length, 2, JSON.stringify(report))
          assert.isTrue(report.removed.some((r) => r.startsWith(`container ${started!}`)))
          assert.include(report.removed, `workdir ${join(root, "killed")}`)
          assert.deepStrictEqual(containersWithLabel(`${nodeLabel}=${node}`).map((id) => keep.startsWith(id)), [true])
          assert.strictEqual(containersWithLabel(`${nodeLabel}=other-${node}`).length, 1)
          assert.isFalse(existsSync(join(root, "killed")))
          assert.isTrue(existsSync(join(root, "keep")))
          assert.isTrue(existsSync(join(root, "not-a-dir")))
          // Nothing left: a second sweep is a no-op.
          const again = yield* sweeper.sweep({ nodeId: node, running: new Set(["keep"]), workRoot: root })
          assert.deepStrictEqual({ removed: again.removed, errors: again.errors }, { removed: [], errors: [] })
        } finally {
          execFileSync("docker", ["rm", "-f", keep, other], { stdio: "pipe" })
          rmSync(root, { recursive: true, force: true })
        }
      }))

    it.effect("after a SIGKILLed holder, kills its surviving process-runner tool and the tool's child", () =>
      Effect.gen(function*() {
        const sweeper = yield* OrphanSweep
        const root = mkdtempSync(join(tmpdir(), "grid-sweep-proc-"))
        const [pid, child] = (yield* holdThenSigkill("holdProcess.ts", ["killed-proc", root, `proc-${process.pid}`])).map(Number) as [number, number]
        // A detached process of a live parent (this test) in another dead test's directory:
        // not abandoned, so never touched.
        mkdirSync(join(root, "adopted-not"))
        const bystander = spawn("sleep", ["1000"], { cwd: join(root, "adopted-not"), detached: true, stdio: "ignore" })
        try {
          assert.isTrue(alive(pid) && alive(child), "the tool outlived its holder")
          const report = yield* sweeper.sweep({ nodeId: `proc-${process.pid}`, running: new Set(), workRoot: root })
          assert.deepStrictEqual(report.errors, [])
          assert.include(report.removed, `process group ${pid} (test killed-proc)`)
          assert.include(report.removed, `workdir ${join(root, "killed-proc")}`)
          for (let i = 0; i < 150 && (alive(pid) || alive(child)); i++) yield* Effect.sleep("20 millis")
          assert.isFalse(alive(pid), "the tool is gone")
          assert.isFalse(alive(child), "the tool's child is gone")
          assert.isTrue(alive(bystander.pid!), "a live parent's process is left alone")
        } finally {
          bystander.kill("SIGKILL")
          rmSync(root, { recursive: true, force: true })
        }
      }))

    it.effect("periodically: a container left while the node runs is removed on the next round, a running one stays", () =>
      Effect.gen(function*() {
        const image = yield* Image
        const sweeper = yield* OrphanSweep
        const node = `periodic-${process.pid}`
        const running = new Set(["live"])
        const start = (test: string) =>
          execFileSync("docker", ["run", "-d", "--label", `${nodeLabel}=${node}`, "--label", `${testLabel}=${test}`, image, "sleep", "30"], { encoding: "utf8" }).trim()
        const live = start("live")
        try {
          yield* Effect.scoped(Effect.gen(function*() {
            yield* sweeper.periodic(Effect.sync(() => ({ nodeId: node, running })), "200 millis")
            yield* Effect.sleep("300 millis")
            const leftover = start("finished-without-cleanup")
            for (let i = 0; i < 100 && containersWithLabel(`${testLabel}=finished-without-cleanup`).length > 0; i++) {
              yield* Effect.sleep("50 millis")
            }
            assert.deepStrictEqual(containersWithLabel(`${testLabel}=finished-without-cleanup`), [], `${leftover} still there`)
            assert.strictEqual(containersWithLabel(`${nodeLabel}=${node}`).length, 1)
          }))
        } finally {
          execFileSync("docker", ["rm", "-f", live], { stdio: "pipe" })
        }
      }))
  })
})
