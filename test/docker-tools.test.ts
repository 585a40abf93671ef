// A real load tool through the docker runner: the locust adapter's docker plan (the image's
// entrypoint is locust, the work directory at /grid/work, grid's hook beside the locustfile)
// launched by DockerBackend in an image of this machine's Locust, against a counting target
// on 127.0.0.1 over host networking. The hook's lines must match the target's count exactly,
// and the files the container wrote must belong to the work directory's owner.
import { NodeServices } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import { parserFor } from "../src/ingest/parsers/index.ts"
import type { StartCommand } from "../src/protocol/commands.ts"
import { resultFileOf } from "../src/tools/Tool.ts"
import { DockerBackend, dockerWorkMount, testLabel } from "../src/runner/DockerBackend.ts"
import { DockerCli } from "../src/runner/DockerCli.ts"
import { locustTool } from "../src/tools/locust.ts"
import { countingTarget } from "./fixtures/countingTarget.ts"
import { containersWithLabel, removeImage } from "./fixtures/docker/busyboxImage.ts"
import { buildHostLocustImage } from "./fixtures/docker/hostLocustImage.ts"

class LocustImage extends Context.Service<LocustImage, string>()("test/LocustImage") {}

const testLayer = Layer.mergeAll(
  Layer.effect(LocustImage, Effect.acquireRelease(Effect.sync(buildHostLocustImage), (tag) => Effect.sync(() => removeImage(tag)))),
  DockerBackend.layer({ forcedGrace: "2 seconds" }).pipe(Layer.provide(DockerCli.layer()), Layer.provide(NodeServices.layer))
)

describe("load tools through the docker runner", () => {
  layer(testLayer, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect("locust in a container: one hook line per request the target served", () =>
      Effect.gen(function*() {
        const image = yield* LocustImage
        const backend = yield* DockerBackend
        const target = yield* countingTarget
        const workDir = mkdtempSync(join(tmpdir(), "grid-docker-locust-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(workDir, { recursive: true, force: true })))
        copyFileSync(join(import.meta.dirname, "fixtures", "locust", "locustfile.py"), join(workDir, "locustfile.py"))
        const command: StartCommand = {
          kind: "start",
          commandId: "c-docker-locust",
          testId: `docker-locust-${process.pid}`,
          tool: "locust",
          runner: "docker",
          entry: "locustfile.py",
          params: { users: 2, durationSeconds: 2, target: target.url }
        }
        const plan = yield* locustTool.plan({ command, runner: "docker", workDir, toolWorkDir: dockerWorkMount })
        const log: Array<string> = []
        const exit = yield* Effect.scoped(Effect.flatMap(
          backend.launch({
            testId: command.testId,
            nodeId: "docker-tools-node",
            workDir,
            argv: plan.argv,
            env: plan.env,
            image,
            onLine: (stream, line) => log.push(`[${stream}] ${line}`)
          }),
          (running) => running.exit
        ))
        assert.strictEqual(exit.exitCode, 0, log.join("\n"))
        const results = resultFileOf(plan)!.path
        let samples = 0
        const parser = parserFor(resultFileOf(plan)!.format, (s) => {
          samples++
          assert.strictEqual(s.status, "200")
        })
        parser.push(readFileSync(results))
        parser.end()
        assert.strictEqual(parser.bad.count, 0)
        assert.isAbove(target.count(), 5)
        assert.strictEqual(samples, target.count())
        assert.strictEqual(statSync(results).uid, statSync(workDir).uid, "the container wrote as the work directory's owner")
        assert.isUndefined(locustTool.judge({ exit, samples, logTail: log }))
        assert.deepStrictEqual(containersWithLabel(`${testLabel}=${command.testId}`), [])
      }))
  })
})
