// The one conformance suite every runner backend passes (test/backends.test.ts runs it
// against the process, docker and inprocess backends): output capture, exit codes,
// environment and work directory, polite stop within the grace, kill after the grace, and
// nothing left behind after an interruption (not the tool, not a child of the tool, not a
// container). Each tool of the suite exists as a shell script (process, docker) and as an
// in-process program (inprocess); a backend declares what its tools can do (`Capabilities`),
// and a test about what they cannot (ignore a stop, start a child) is not registered for it.
import { afterAll, assert, describe, layer } from "@effect/vitest"
import { mkdtempSync, existsSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { writeFileSync } from "node:fs"
import type { InProcessRun, LaunchSpec, RunnerBackend, RunningTool } from "../src/runner/Backend.ts"

/** What a backend's tools can do, known when the tests are registered. */
export interface Capabilities {
  /** Tools are programs launched from `argv` (shell scripts here), or in-process programs. */
  readonly runs: "argv" | "inProcess"
  /** A tool can ignore its polite stop, so the backend must kill it after the grace. */
  readonly canIgnoreStop: boolean
  /** A tool can start children of its own, which must go with it. */
  readonly hasChildren: boolean
}

/** The in-process tools running now, by test id (the inprocess backend's `present`). */
export const inProcessRunning = new Set<string>()

export interface BackendUnderTestShape {
  readonly backend: RunnerBackend
  /** The image the docker backend runs the shell scripts in (ignored by the process backend). */
  readonly image?: string | undefined
  /** How the tool sees its work directory. */
  readonly toolWorkDir: (hostWorkDir: string) => string
  /** Whether anything this launch started is still there (the tool, its child, the container), now. */
  readonly present: (ref: RunningTool["ref"], spec: LaunchSpec, childPid: number | undefined) => boolean
  /** A spec override that cannot start (missing executable / missing image), and its error code. */
  readonly unlaunchable: { readonly spec: Partial<LaunchSpec>; readonly code: string }
}

export class BackendUnderTest extends Context.Service<BackendUnderTest, BackendUnderTestShape>()("test/BackendUnderTest") {}

/** Collects the tool's lines; `waitFor` polls (the tool writes asynchronously to us). */
const lineLog = () => {
  const lines: Array<{ stream: "stdout" | "stderr"; line: string }> = []
  return {
    lines,
    onLine: (stream: "stdout" | "stderr", line: string) => {
      lines.push({ stream, line })
    },
    waitFor: (pred: (line: string) => boolean, timeout: Duration.Input = "20 seconds") =>
      Effect.gen(function*() {
        while (!lines.some((l) => pred(l.line))) yield* Effect.sleep("20 millis")
        return lines.find((l) => pred(l.line))!.line
      }).pipe(Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.die(new Error(`no matching line; got ${JSON.stringify(lines)}`)) }))
  }
}

/** Polls briefly: a killed group's last members can take a moment to disappear. */
const gone = (t: BackendUnderTestShape, ref: RunningTool["ref"], s: LaunchSpec, childPid: number | undefined) =>
  Effect.gen(function*() {
    for (let i = 0; i < 150; i++) {
      if (!t.present(ref, s, childPid)) return true
      yield* Effect.sleep("20 millis")
    }
    return !t.present(ref, s, childPid)
  })

let counter = 0
let workRoot: string | undefined
const spec = (t: BackendUnderTestShape, argv: Array<string>, extra: Partial<LaunchSpec> = {}): LaunchSpec => {
  workRoot ??= mkdtempSync(join(tmpdir(), "grid-conf-"))
  const workDir = mkdtempSync(join(workRoot, "w-"))
  return {
    testId: `conf-${process.pid}-${++counter}`,
    nodeId: `node-${process.pid}`,
    workDir,
    argv,
    env: {},
    image: t.image,
    ...extra
  }
}

const sh = (script: string) => ["sh", "-c", script]

/** One tool of the suite: its shell script and the same behaviour as an in-process program. */
interface SuiteTool {
  readonly argv: ReadonlyArray<string>
  readonly inProcess: InProcessRun
}

/** An in-process program that logs `ready` and runs until it is stopped. */
const untilStopped = (onStop: InProcessRun = () => Effect.succeed(0)): InProcessRun => (io) =>
  Effect.sync(() => io.log("stdout", "ready")).pipe(Effect.andThen(Effect.never), Effect.onInterrupt(() => onStop(io)), Effect.as(0))

const suiteTools = {
  report: {
    argv: sh("echo out1; echo err1 >&2; echo \"env=$GRID_X\"; pwd; touch made-here; echo out2; exit 7"),
    inProcess: (io) =>
      Effect.sync(() => {
        io.log("stdout", "out1")
        io.log("stderr", "err1")
        io.log("stdout", `env=${io.env.GRID_X ?? ""}`)
        io.log("stdout", io.workDir)
        writeFileSync(join(io.workDir, "made-here"), "")
        io.log("stdout", "out2")
        return 7
      })
  },
  env: {
    argv: ["env"],
    inProcess: (io) => Effect.sync(() => (Object.entries(io.env).forEach(([k, v]) => io.log("stdout", `${k}=${v}`)), 0))
  },
  succeeds: { argv: ["true"], inProcess: () => Effect.succeed(0) },
  exitsOnStop: {
    argv: sh("trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done"),
    inProcess: untilStopped((io) => Effect.sync(() => (io.log("stdout", "got-term"), 0)))
  },
  ignoresStop: { argv: sh("trap '' TERM; echo ready; while true; do sleep 0.1; done"), inProcess: untilStopped() },
  childIgnoringStop: { argv: sh("trap '' TERM; sleep 1000 & echo child=$!; echo ready; wait"), inProcess: untilStopped() },
  withChild: { argv: sh("sleep 1000 & echo child=$!; echo ready; wait"), inProcess: untilStopped() }
} satisfies Record<string, SuiteTool>

/** The spec that runs `tool` the way the backend runs tools. */
const toolSpec = (t: BackendUnderTestShape, caps: Capabilities, tool: SuiteTool, extra: Partial<LaunchSpec> = {}): LaunchSpec => {
  const s = spec(t, caps.runs === "argv" ? [...tool.argv] : [], extra)
  if (caps.runs === "argv") return s
  const run = tool.inProcess
  return {
    ...s,
    inProcess: (io) =>
      Effect.sync(() => inProcessRunning.add(s.testId)).pipe(
        Effect.andThen(run(io)),
        Effect.ensuring(Effect.sync(() => inProcessRunning.delete(s.testId)))
      )
  }
}

export const backendConformance = (name: string, caps: Capabilities, makeLayer: () => Layer.Layer<BackendUnderTest, unknown>) =>
  describe(`runner backend conformance: ${name}`, () => {
    afterAll(() => {
      if (workRoot !== undefined) rmSync(workRoot, { recursive: true, force: true })
      workRoot = undefined
    })
    layer(makeLayer(), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
      it.effect("captures both output streams line by line, the exit code, env and the work directory", () =>
        Effect.gen(function*() {
          const t = yield* BackendUnderTest
          const log = lineLog()
          const s = toolSpec(t, caps, suiteTools.report, {
            env: { GRID_X: "a b $c" },
            onLine: log.onLine
          })
          const exit = yield* Effect.scoped(Effect.flatMap(t.backend.launch(s), (r) => r.exit))
          assert.strictEqual(exit.exitCode, 7)
          const out = log.lines.filter((l) => l.stream === "stdout").map((l) => l.line)
          assert.deepStrictEqual(out, ["out1", "env=a b $c", t.toolWorkDir(s.workDir), "out2"])
          assert.deepStrictEqual(log.lines.filter((l) => l.stream === "stderr").map((l) => l.line), ["err1"])
          assert.isTrue(existsSync(join(s.workDir, "made-here")), "the tool wrote into the work directory")
        }))

      it.effect("the tool gets a clean environment: nothing of the daemon's own (secrets) leaks", () =>
        Effect.gen(function*() {
          const t = yield* BackendUnderTest
          const log = lineLog()
          const secret = "conformance-secret-value"
          const saved = { GRID_NATS_TOKEN: process.env.GRID_NATS_TOKEN, NATS_PASSWORD: process.env.NATS_PASSWORD, SOME_API_KEY: process.env.SOME_API_KEY }
          const s = toolSpec(t, caps, suiteTools.env, { env: { GRID_TARGET: "http://127.0.0.1:1", MY_VAR: "mine" }, onLine: log.onLine })
          const exit = yield* Effect.acquireUseRelease(
            Effect.sync(() => {
              process.env.GRID_NATS_TOKEN = secret
              process.env.NATS_PASSWORD = secret
              process.env.SOME_API_KEY = secret
            }),
            () => Effect.scoped(Effect.flatMap(t.backend.launch(s), (r) => r.exit)),
            () =>
              Effect.sync(() => {
                for (const [k, v] of Object.entries(saved)) {
                  if (v === undefined) delete process.env[k]
                  else process.env[k] = v
                }
              })
          )
          assert.strictEqual(exit.exitCode, 0)
          const names = log.lines.filter((l) => l.stream === "stdout").map((l) => l.line.split("=")[0])
          assert.isFalse(log.lines.some((l) => l.line.includes(secret)), `secret leaked: ${JSON.stringify(log.lines)}`)
          assert.includeMembers(names, ["GRID_TARGET", "MY_VAR"])
          for (const name of names) {
            if (name === "GRID_TARGET") continue
            assert.notMatch(name!, /^(GRID_|NATS_)/, `${name} reached the tool`)
          }
        }))

      it.effect("reports exit code 0 for a tool that succeeds", () =>
        Effect.gen(function*() {
          const t = yield* BackendUnderTest
          const s = toolSpec(t, caps, suiteTools.succeeds)
          const exit = yield* Effect.scoped(Effect.flatMap(t.backend.launch(s), (r) => r.exit))
          assert.deepStrictEqual(exit, { exitCode: 0, signal: null })
        }))

      it.effect("stop: a tool that exits on SIGTERM ends well before the grace", () =>
        Effect.gen(function*() {
          const t = yield* BackendUnderTest
          const log = lineLog()
          const s = toolSpec(t, caps, suiteTools.exitsOnStop, { onLine: log.onLine })
          yield* Effect.scoped(Effect.gen(function*() {
            const running = yield* t.backend.launch(s)
            yield* log.waitFor((l) => l === "ready")
            const started = Date.now()
            yield* running.stop(Duration.seconds(20))
            const exit = yield* running.exit
            const took = Date.now() - started
            assert.isBelow(took, 8_000, `stop took ${took} ms`)
            assert.strictEqual(exit.exitCode, 0)
            assert.isTrue(log.lines.some((l) => l.line === "got-term"), "the tool saw SIGTERM")
            assert.isTrue(yield* gone(t, running.ref, s, undefined))
          }))
        }))

      if (caps.canIgnoreStop) it.effect("stop: a tool that ignores SIGTERM is killed after the grace", () =>
        Effect.gen(function*() {
          const t = yield* BackendUnderTest
          const log = lineLog()
          const s = toolSpec(t, caps, suiteTools.ignoresStop, { onLine: log.onLine })
          yield* Effect.scoped(Effect.gen(function*() {
            const running = yield* t.backend.launch(s)
            yield* log.waitFor((l) => l === "ready")
            const started = Date.now()
            yield* running.stop(Duration.seconds(1))
            const exit = yield* running.exit
            const took = Date.now() - started
            assert.isAtLeast(took, 900, `killed after ${took} ms, before the grace`)
            assert.isBelow(took, 10_000, `stop took ${took} ms`)
            assert.strictEqual(exit.signal, "SIGKILL")
            assert.isTrue(yield* gone(t, running.ref, s, undefined))
          }))
        }))

      it.effect(`closing the launch scope leaves nothing behind${caps.hasChildren ? ", a child of the tool included" : ""}`, () =>
        Effect.gen(function*() {
          const t = yield* BackendUnderTest
          const log = lineLog()
          const s = toolSpec(t, caps, suiteTools.childIgnoringStop, { onLine: log.onLine })
          const scope = yield* Scope.make()
          const running = yield* t.backend.launch(s).pipe(Scope.provide(scope))
          yield* log.waitFor((l) => l === "ready")
          const childPid = caps.hasChildren ? Number((yield* log.waitFor((l) => l.startsWith("child="))).slice(6)) : undefined
          assert.isTrue(t.present(running.ref, s, childPid), "running before the scope closes")
          yield* Scope.close(scope, Exit.void)
          assert.isTrue(yield* gone(t, running.ref, s, childPid))
        }))

      it.effect("interrupting the fiber that runs the tool leaves nothing behind", () =>
        Effect.gen(function*() {
          const t = yield* BackendUnderTest
          const log = lineLog()
          const s = toolSpec(t, caps, suiteTools.withChild, { onLine: log.onLine })
          let ref: RunningTool["ref"] | undefined
          const fiber = yield* Effect.scoped(
            Effect.flatMap(t.backend.launch(s), (r) => {
              ref = r.ref
              return r.exit
            })
          ).pipe(Effect.forkChild)
          yield* log.waitFor((l) => l === "ready")
          const childPid = caps.hasChildren ? Number((yield* log.waitFor((l) => l.startsWith("child="))).slice(6)) : undefined
          yield* Fiber.interrupt(fiber)
          assert.isDefined(ref)
          assert.isTrue(yield* gone(t, ref!, s, childPid))
        }))

      it.effect("a tool that cannot start is a typed LaunchError and leaves nothing behind", () =>
        Effect.gen(function*() {
          const t = yield* BackendUnderTest
          const s = spec(t, ["true"], t.unlaunchable.spec)
          const result = yield* Effect.scoped(t.backend.launch(s)).pipe(Effect.flip)
          assert.strictEqual(result._tag, "LaunchError")
          assert.strictEqual(result.code, t.unlaunchable.code)
          assert.isTrue(yield* gone(t, { pid: -1 }, s, undefined))
        }))
    })
  })
