// Runs the shared runner-backend conformance suite against the process backend, the docker
// backend (a busybox image built locally: no registry is reachable here) and the inprocess
// backend (the suite's tools as in-process programs).
import { NodeServices } from "@effect/platform-node"
import { readFileSync } from "node:fs"
import { Effect, Layer } from "effect"
import { DockerBackend, dockerWorkMount, testLabel } from "../src/runner/DockerBackend.ts"
import { DockerCli } from "../src/runner/DockerCli.ts"
import { InProcessBackend } from "../src/runner/InProcessBackend.ts"
import { ProcessBackend } from "../src/runner/ProcessBackend.ts"
import { backendConformance, BackendUnderTest, type Capabilities, inProcessRunning } from "./backend-conformance.ts"
import { buildBusyboxImage, containersWithLabel, removeImage } from "./fixtures/docker/busyboxImage.ts"

/** Gone = no such pid, or a zombie waiting for a slow PID 1 to reap it. */
const pidGone = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
  } catch {
    return true
  }
}

/** Processes and containers: programs from argv, which can ignore a stop and start children. */
const external: Capabilities = { runs: "argv", canIgnoreStop: true, hasChildren: true }

backendConformance("process", external, () =>
  Layer.effect(
    BackendUnderTest,
    Effect.map(Effect.service(ProcessBackend), (backend) =>
      BackendUnderTest.of({
        backend,
        toolWorkDir: (dir) => dir,
        present: (ref, _spec, childPid) =>
          ("pid" in ref && ref.pid > 0 && !pidGone(ref.pid)) || (childPid !== undefined && !pidGone(childPid)),
        unlaunchable: { spec: { argv: ["/nonexistent/grid-tool"] }, code: "launch_failed" }
      }))
  ).pipe(Layer.provide(ProcessBackend.layer({ forcedGrace: "1 second" })), Layer.provide(NodeServices.layer)))

backendConformance("docker", external, () =>
  Layer.effect(
    BackendUnderTest,
    Effect.gen(function*() {
      const backend = yield* DockerBackend
      const image = yield* Effect.acquireRelease(Effect.sync(buildBusyboxImage), (tag) => Effect.sync(() => removeImage(tag)))
      return BackendUnderTest.of({
        backend,
        image,
        toolWorkDir: () => dockerWorkMount,
        present: (_ref, spec) => containersWithLabel(`${testLabel}=${spec.testId}`).length > 0,
        unlaunchable: { spec: { image: "grid-missing-image:none" }, code: "image_missing" }
      })
    })
  ).pipe(
    Layer.provide(DockerBackend.layer({ forcedGrace: "1 second" })),
    Layer.provide(DockerCli.layer()),
    Layer.provide(NodeServices.layer)
  ))

// An in-process tool is a fiber: its stop is interruption, which it cannot ignore, and it has
// no children of its own.
backendConformance("inprocess", { runs: "inProcess", canIgnoreStop: false, hasChildren: false }, () =>
  Layer.effect(
    BackendUnderTest,
    Effect.map(Effect.service(InProcessBackend), (backend) =>
      BackendUnderTest.of({
        backend,
        toolWorkDir: (dir) => dir,
        present: (_ref, spec) => inProcessRunning.has(spec.testId),
        unlaunchable: { spec: { inProcess: undefined }, code: "launch_failed" }
      }))
  ).pipe(Layer.provide(InProcessBackend.layer), Layer.provide(NodeServices.layer)))
