// One test's whole life on this node, in its own scope: decide (work directory, files, tool,
// runner), accept, wait at the barrier or the start time, launch, watch for its end, a stop
// or its time bound, then clean up and only then publish the single terminal event.
// A failing test ends here; it never reaches the daemon's supervisor.
import { Cause, Clock, Deferred, Duration, Effect, Exit, Option, Ref, Scope } from "effect"
import type { StartCommand } from "../protocol/commands.ts"
import type { Artifact, Cleanup, ErrorInfo, GridEvent, RunSummary } from "../protocol/events.ts"
import type { AllowList } from "../engine/TargetAllowList.ts"
import { type EffectiveFlags, flagValues, stringFlag } from "../flags/FlagResolver.ts"
import type { ToolAdapter, ToolContext } from "../tools/Tool.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import type { RunnerName, RunningTool, ToolExit } from "./Backend.ts"
import { Backends } from "./Backends.ts"
import type { RunnerOptions } from "./RunnerOptions.ts"
import { type CleanupLog, makeCleanupLog } from "./CleanupLog.ts"
import { EventSink } from "./EventSink.ts"
import { LocalRun } from "./LocalRun.ts"
import { ResultIngest } from "./ResultIngest.ts"
import type { TestControl } from "./TestControl.ts"
import { publishArtifacts } from "./TestArtifacts.ts"
import { TestJournal } from "./TestJournal.ts"
import { makeWorkDir, nodeWorkRoot, writeFiles } from "./WorkDir.ts"

/** How the test ended, before cleanup. */
type Ending =
  | { readonly kind: "rejected"; readonly code: Parameters<typeof rejected>[0]; readonly message: string }
  | { readonly kind: "finished"; readonly exitCode: number | null; readonly summary: RunSummary | null }
  | { readonly kind: "failed"; readonly error: ErrorInfo; readonly summary: RunSummary | null }
  | { readonly kind: "stopped"; readonly reason: string; readonly commandId?: string | undefined; readonly summary: RunSummary | null }

/** An event as the runner fills it; `at`, ids and labels are added by `publish`. */
type EventBody = GridEvent extends infer E ? E extends GridEvent ? Omit<E, "at" | "testId" | "nodeId" | "labels"> : never : never
type Publish = (event: EventBody) => Effect.Effect<void>

const rejected = (code: "invalid_command" | "unsupported_tool" | "workdir_failed" | "busy" | "duplicate_test" | "target_not_allowed", message: string) => ({ kind: "rejected" as const, code, message })
/** An internal error's event message: short, one line, never a stack trace (the full cause is logged). */
const MAX_INTERNAL_MESSAGE = 200
const MAX_LOG_LINES = 50

export const runTest = Effect.fn("runner.runTest")(function*(command: StartCommand, control: TestControl, config: RunnerOptions, flags?: EffectiveFlags) {
  const events = yield* EventSink
  const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())
  const base = { testId: command.testId, nodeId: config.nodeId, labels: command.labels }
  const publish: Publish = (event) =>
    Effect.flatMap(now, (at) => events.publish({ ...base, commandId: command.commandId, at, ...event } as GridEvent))

  yield* Effect.annotateCurrentSpan({ "grid.test_id": command.testId, "grid.node_id": config.nodeId, "grid.tool": command.tool })
  const journal = yield* Effect.serviceOption(TestJournal)
  const cleanup = yield* makeCleanupLog
  // Only the body may be interrupted (the daemon going down hard): closing the test's scope
  // and publishing its terminal event always happen, whatever ended it.
  return yield* Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const made: { workDir?: string } = {}
      const ending = yield* restore(body(command, control, cleanup, publish, config, flags, made).pipe(Scope.provide(scope))).pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.succeed<Ending>({ kind: "stopped", reason: "interrupted", summary: null })
            : Effect.logError(`test ${command.testId}: internal error`, cause).pipe(
              Effect.as<Ending>({ kind: "failed", error: { code: "internal_error", message: internalMessage(cause) }, summary: null })
            )
        )
      )
      // The test's screenshots are kept before its work directory goes with the scope.
      const artifacts = ending.kind !== "rejected" && made.workDir !== undefined
        ? yield* publishArtifacts(command.testId, made.workDir)
        : []
      yield* Scope.close(scope, Exit.void).pipe(Effect.withSpan("runner.cleanup"))
      yield* publishEnd(ending, yield* cleanup.report, publish, artifacts).pipe(
        Effect.withSpan("runner.publishEnd", { attributes: { "grid.outcome": ending.kind } })
      )
      // The terminal event is with the sink: the journal no longer owes it (TestJournal.ts).
      if (ending.kind !== "rejected" && Option.isSome(journal)) yield* journal.value.remove(command.testId)
      if (ending.kind === "rejected") {
        yield* Deferred.succeed(control.decided, { _tag: "Rejected", code: ending.code, message: ending.message })
      }
      // A test that died before deciding must not leave the control listener waiting.
      yield* Deferred.succeed(control.decided, { _tag: "Rejected", code: "invalid_command", message: "test ended before a decision" })
    })
  )
})

/** The allow-list's verdict before `accepted`: the tool's own check of every host it will send
 * to, or, for a tool whose targets the node cannot read, whether `--allow-tools` names it. */
const allowed = (tool: ToolAdapter, ctx: ToolContext, allow: AllowList, allowTools: ReadonlyArray<string>) => {
  if (tool.checkTargets === undefined) {
    return Effect.succeed(allowTools.includes(tool.name) ? undefined : rejected(
      "target_not_allowed",
      `this node only sends to ${allow.text.join(", ")}, and tool ${tool.name}'s targets cannot be checked (the node's --allow-tools does not name it)`
    ))
  }
  return tool.checkTargets(ctx, allow).pipe(
    Effect.map((refused) => (refused === undefined ? undefined : rejected("target_not_allowed", refused))),
    Effect.catch((e) => Effect.succeed(rejected("invalid_command", e.message)))
  )
}

const publishEnd = (
  end: Ending,
  cleanup: Cleanup,
  publish: Publish,
  kept: ReadonlyArray<Artifact>
) => {
  const artifacts = kept.length > 0 ? { artifacts: kept } : {}
  switch (end.kind) {
    case "rejected":
      return publish({ kind: "rejected", code: end.code, message: end.message })
    case "finished":
      return publish({ kind: "finished", exitCode: end.exitCode, summary: end.summary, cleanup, ...artifacts })
    case "failed":
      return publish({ kind: "failed", error: end.error, summary: end.summary, cleanup, ...artifacts })
    case "stopped":
      return publish({ kind: "stopped", reason: end.reason, summary: end.summary, cleanup, ...artifacts, ...(end.commandId ? { commandId: end.commandId } : {}) })
  }
}

const body = (
  command: StartCommand,
  control: TestControl,
  cleanup: CleanupLog,
  publish: Publish,
  config: RunnerOptions,
  flags: EffectiveFlags | undefined,
  /** Where the test's work directory is, once made (its artifacts are read from it at the end). */
  madeDir: { workDir?: string }
) =>
  Effect.gen(function*() {
    const tools = yield* ToolRegistry
    const backends = yield* Backends
    const ingest = yield* ResultIngest

    // --- decide: everything that can make the command invalid happens before `accepted`,
    // and so does every write to disk: a node that cannot write refuses (`workdir_failed`).
    const journal = yield* Effect.serviceOption(TestJournal)
    if (Option.isSome(journal) && (yield* journal.value.ran(command.testId))) {
      return rejected("duplicate_test", `test ${command.testId} already ran on this node (before a restart)`)
    }
    const made = yield* Effect.result(makeWorkDir(nodeWorkRoot(config), config.nodeId, command.testId, cleanup)).pipe(Effect.withSpan("runner.workDir"))
    if (made._tag === "Failure") return rejected("workdir_failed", made.failure.message)
    const workDir = made.success
    madeDir.workDir = workDir
    const written = yield* Effect.result(writeFiles(workDir, command.files ?? [])).pipe(Effect.withSpan("runner.writeFiles"))
    if (written._tag === "Failure") {
      return written.failure.code === "invalid_command"
        ? rejected("invalid_command", written.failure.message)
        : rejected("workdir_failed", written.failure.message)
    }
    // The live flags this test runs under (read once, at its start): the tool's binary, the
    // runner of a start that names none, the built-in engine's client, the tool's image.
    const toolPath = stringFlag(flags, `tools.${command.tool}.path`)
    const tool = tools.get(command.tool as never, toolPath === undefined ? undefined : { path: toolPath })
    if (!tool) return rejected("unsupported_tool", `tool ${command.tool} is not available on this node`)
    const runnerName = command.runner ?? (stringFlag(flags, "runner.default") as RunnerName | undefined) ?? config.defaultRunner
    const backend = backends.get(runnerName)
    if (!backend || !(yield* backend.available)) {
      return rejected("unsupported_tool", `runner ${runnerName} is not available on this node`)
    }
    if (!(yield* tool.available(runnerName))) {
      return rejected("unsupported_tool", `tool ${command.tool} cannot run with the ${runnerName} runner on this node`)
    }
    const local = yield* LocalRun
    const engineClient = stringFlag(flags, "engine.client") as "lean" | "undici" | undefined
    const browserPath = stringFlag(flags, "tools.browser.path")
    const toolCtx = { command, runner: runnerName, workDir, toolWorkDir: backend.toolWorkDir(workDir), local, allowTargets: config.allowTargets?.text, engineClient, browserPath, engineWorkers: config.engineWorkers }
    const planned = yield* Effect.result(tool.plan(toolCtx))
    if (planned._tag === "Failure") {
      return rejected(planned.failure.code === "workdir_failed" ? "workdir_failed" : "invalid_command", planned.failure.message)
    }
    if (config.allowTargets !== undefined) {
      const refused = yield* allowed(tool, toolCtx, config.allowTargets, config.allowTools ?? []).pipe(Effect.withSpan("runner.allowTargets"))
      if (refused !== undefined) return refused
    }
    const plan = planned.success
    const busy = yield* control.admit
    if (busy !== undefined) return rejected("busy", busy)

    // Journaled before `accepted` is out: a node killed from here on owes this test its
    // terminal event, and its next life pays it from the journal.
    if (Option.isSome(journal)) {
      const at = new Date(yield* Clock.currentTimeMillis).toISOString()
      const noted = yield* Effect.result(journal.value.record({
        testId: command.testId,
        commandId: command.commandId,
        runner: runnerName,
        tool: command.tool,
        acceptedAt: at,
        ...(command.labels !== undefined ? { labels: command.labels } : {})
      }))
      if (noted._tag === "Failure") return rejected("workdir_failed", noted.failure.message)
    }
    yield* publish({
      kind: "accepted",
      runner: runnerName,
      tool: command.tool,
      ...(flags !== undefined ? { flags: flagValues(flags), flagsRevision: flags.revision } : {})
    })
    yield* Deferred.succeed(control.decided, { _tag: "Accepted" })

    // --- wait for the go / the start time, interruptible by a stop.
    const maxDuration = Duration.min(
      config.maxDuration,
      command.limits?.maxDurationSeconds !== undefined ? Duration.seconds(command.limits.maxDurationSeconds) : config.maxDuration
    )
    const stopped = Effect.map(Deferred.await(control.stop), (s): Ending => ({ kind: "stopped", reason: s.reason, commandId: s.commandId, summary: null }))
    if (command.barrier === true) {
      yield* Ref.set(control.atBarrier, true)
      yield* publish({ kind: "ready" })
      const released = yield* Effect.raceFirst(
        Effect.as(Deferred.await(control.go), Option.none<Ending>()),
        Effect.raceFirst(
          Effect.map(stopped, Option.some),
          Effect.as(Effect.sleep(maxDuration), Option.some<Ending>({
            kind: "failed",
            error: { code: "barrier_timeout", message: `no go within ${Duration.format(maxDuration)}` },
            summary: null
          }))
        )
      )
      yield* Ref.set(control.atBarrier, false)
      if (Option.isSome(released)) return released.value
    }
    if (command.startAt !== undefined) {
      const wait = Date.parse(command.startAt) - (yield* Clock.currentTimeMillis)
      if (wait > 0) {
        const early = yield* Effect.raceFirst(Effect.as(Effect.sleep(wait), Option.none<Ending>()), Effect.map(stopped, Option.some))
        if (Option.isSome(early)) return early.value
      }
    }

    // --- run.
    const logTail: Array<string> = []
    const launched = yield* Ref.make<RunningTool | undefined>(undefined)
    // Registered before launch so it runs after the backend's own release: it checks and
    // reports that the process group / container is really gone.
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Ref.get(launched), (tool) => (tool === undefined ? Effect.void : verifyGone(tool, cleanup)))
    )
    const onLine = (stream: "stdout" | "stderr", line: string) => {
      logTail.push(`[${stream}] ${line}`)
      if (logTail.length > MAX_LOG_LINES) logTail.shift()
    }
    // A tool that pushes its samples needs the sink at launch: its ingestion starts first.
    // A result file is followed from the launch on, so its windows count from `started`.
    const pushed = plan.results === "push"
      ? yield* ingest.start({ testId: command.testId, labels: command.labels, workDir, source: "push" })
      : undefined
    const running = yield* backend.launch({
      testId: command.testId,
      nodeId: config.nodeId,
      workDir,
      argv: plan.argv,
      env: plan.env,
      image: plan.image ?? command.image ?? stringFlag(flags, `tools.${command.tool}.image`) ?? tool.defaultImage,
      limits: command.limits,
      onLine,
      inProcess: plan.inProcess,
      sink: pushed?.sink
    }).pipe(Effect.result, Effect.withSpan("runner.launch", { attributes: { "grid.runner": runnerName } }))
    if (running._tag === "Failure") {
      return { kind: "failed", error: { code: running.failure.code, message: running.failure.message }, summary: null } as Ending
    }
    const tool$ = running.success
    yield* Ref.set(launched, tool$)
    yield* publish({ kind: "started", ...tool$.ref })
    const results = pushed ?? (plan.results !== undefined && plan.results !== "push"
      ? yield* ingest.start({ testId: command.testId, labels: command.labels, workDir, source: plan.results })
      : undefined)

    type Watch =
      | { readonly _tag: "Exited"; readonly exit: ToolExit }
      | { readonly _tag: "Stop"; readonly reason: string; readonly grace: Duration.Duration; readonly commandId?: string | undefined }
      | { readonly _tag: "Timeout" }
      | { readonly _tag: "IngestFailed"; readonly error: ErrorInfo }
    const watchers: Array<Effect.Effect<Watch>> = [
      Effect.map(tool$.exit, (exit) => ({ _tag: "Exited", exit }) as const),
      Effect.map(Deferred.await(control.stop), (s) => ({ _tag: "Stop", ...s }) as const),
      Effect.as(Effect.sleep(maxDuration), { _tag: "Timeout" } as const)
    ]
    if (results) watchers.push(Effect.map(results.failure, (error) => ({ _tag: "IngestFailed", error }) as const))
    const watched = yield* Effect.raceAll(watchers).pipe(Effect.withSpan("runner.run"))

    // A tool with its own polite stop gets it first and the grace to end by itself; then the
    // backend's stop (signals, container removal) runs with a short grace of its own.
    const politely = (grace: Duration.Duration) =>
      plan.politeStop === undefined
        ? tool$.stop(grace)
        : plan.politeStop.pipe(
          Effect.andThen(Effect.timeoutOption(tool$.exit, grace)),
          Effect.andThen(tool$.stop(Duration.min(grace, Duration.seconds(2))))
        )
    const stopTool = (grace: Duration.Duration) =>
      Effect.raceFirst(politely(grace), Deferred.await(control.force).pipe(Effect.andThen(tool$.stop(Duration.zero))))
    let ending: Ending
    switch (watched._tag) {
      case "Exited": {
        const summary = results ? yield* results.finish : null
        const error = tool.judge({ exit: watched.exit, samples: summary?.count, logTail })
        ending = error ? { kind: "failed", error, summary } : { kind: "finished", exitCode: watched.exit.exitCode, summary }
        break
      }
      case "Stop": {
        yield* stopTool(watched.grace)
        ending = { kind: "stopped", reason: watched.reason, commandId: watched.commandId, summary: results ? yield* results.finish : null }
        break
      }
      case "Timeout": {
        yield* stopTool(config.stopGrace)
        ending = {
          kind: "failed",
          error: { code: "max_duration", message: `the test ran longer than its bound of ${Duration.format(maxDuration)}` },
          summary: results ? yield* results.finish : null
        }
        break
      }
      case "IngestFailed": {
        // A tool that has just died explains the missing results better than their absence.
        const exited = yield* Effect.timeoutOption(tool$.exit, "250 millis")
        const toolError = Option.isSome(exited) ? tool.judge({ exit: exited.value, samples: undefined, logTail }) : undefined
        if (Option.isNone(exited)) yield* stopTool(config.stopGrace)
        ending = { kind: "failed", error: toolError ?? watched.error, summary: results ? yield* results.finish : null }
        break
      }
    }
    // A result file that was refused (a symlink out of the work directory, a FIFO) fails the
    // test whatever else happened, and nothing read from it is reported.
    const refused = results ? yield* results.refused : undefined
    if (refused !== undefined) ending = { kind: "failed", error: refused, summary: null }
    return ending
  })

const internalMessage = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const text = (error instanceof Error ? error.message : String(error)).split("\n")[0]!.trim() || "unexpected error"
  return text.length > MAX_INTERNAL_MESSAGE ? `${text.slice(0, MAX_INTERNAL_MESSAGE)}…[cut]` : text
}

const verifyGone = (tool: RunningTool, cleanup: CleanupLog) =>
  Effect.flatMap(tool.gone, (gone) => (gone ? cleanup.removed(tool.what) : cleanup.error(`${tool.what} is still there`)))
