// The launch flow, built from the controller's primitives: pick the nodes, split the load,
// send the starts, wait for every `accepted` (and with a barrier every `ready`, then one `go`
// per node), then follow events, results and heartbeats until every node has ended. A node
// that fails or whose heartbeat expires is lost: the launch fails and the others are stopped,
// unless node loss is tolerated. Closing the launch's scope (Ctrl-C) stops whatever still runs.
// The state is one plain object updated synchronously by the follower fibers; waits are
// woken by a `changed` Deferred that is replaced after every update. What the live view is
// told, and when (a merged second as soon as it is complete), is LiveView.ts's.
import { Clock, Deferred, Duration, Effect, Schema, type Scope, Semaphore, Stream } from "effect"
import { isId } from "../protocol/names.ts"
import type { ControllerError, Primitives, WireEvent } from "./NodeBus.ts"
import { type LaunchUpdate, LiveView, type NodeView } from "./LiveView.ts"
import { WindowMerger } from "./Merger.ts"
import type { Plan } from "./Plan.ts"
import { endedStatuses, finishReport, type LaunchReport, type NodeStatus } from "./Report.ts"
import { type Selection, SelectionError, selectNodes } from "./Selection.ts"
import { type Share, splitProblem, startCommands } from "./Split.ts"

/** A launch that could not start (a refusal, nodes not ready). Not the runner's LaunchError
 * (a tool that could not start on a node): one tag per error class. */
export class GridLaunchError extends Schema.TaggedError<GridLaunchError>()("GridLaunchError", {
  testId: Schema.String,
  message: Schema.String
}) {}

export type { LaunchUpdate, NodeView }

export interface LaunchOptions {
  /** Default: `<plan name>-<UTC time>-<random>`. */
  readonly testId?: string | undefined
  /** Start by a barrier; default on for more than one node. */
  readonly barrier?: boolean | undefined
  readonly tolerateNodeLoss?: boolean | undefined
  /** How long to wait for selected nodes that are busy to become idle (a test that just ended
   * on them). Default 30 s; 0 refuses at once. */
  readonly waitIdle?: Duration.Input | undefined
  /** How long every node has to accept (or reject) its start. Default 30 s. */
  readonly acceptTimeout?: Duration.Input | undefined
  /** How long every node has to get ready at the barrier. Default 60 s. */
  readonly barrierTimeout?: Duration.Input | undefined
  /** How long stopped nodes have to send their terminal event. Default 30 s. */
  readonly stopTimeout?: Duration.Input | undefined
  /** After every node ended, how long to wait for final windows still in flight. Default 5 s. */
  readonly finalWait?: Duration.Input | undefined
  /** Emit a merged second this long after its first window, even if a node lags. Default 1500 ms. */
  readonly lagMs?: number | undefined
  /** A running node with no window for this long is said to be late. Default 4000 ms. */
  readonly lateAfterMs?: number | undefined
  /** Live view: merged seconds, node status changes, phases. Must not block. */
  readonly onUpdate?: ((u: LaunchUpdate) => void) | undefined
}

export interface Launch {
  readonly testId: string
  readonly shares: ReadonlyArray<Share>
  /** Runs until every node has ended (or the launch failed); the merged report. */
  readonly await: Effect.Effect<LaunchReport>
  /** Stops every node still running, waits (bounded) for them, and reports as interrupted. */
  readonly abort: (reason: string) => Effect.Effect<LaunchReport>
}

interface NodeState {
  readonly nodeId: string
  readonly share: Share
  status: NodeStatus
  error?: string | undefined
  summary?: unknown
  lastSeen: number
  /** Heartbeats in a row, since the node accepted, that do not list the test. */
  unlisted: number
}

const testIdOf = (name: string, now: number) =>
  `${name}-${new Date(now).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}-${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, "0")}`

export const startLaunch = (
  p: Primitives,
  plan: Plan,
  selection: Selection,
  options: LaunchOptions
): Effect.Effect<Launch, GridLaunchError | SelectionError | ControllerError, Scope.Scope> =>
  Effect.gen(function*() {
    const chosen = yield* waitForIdle(p, plan, selection, options)
    const problem = splitProblem(plan, chosen.length)
    if (problem !== undefined) return yield* new SelectionError({ message: problem })
    const startNow = yield* Clock.currentTimeMillis
    const testId = options.testId ?? testIdOf(plan.name, startNow)
    if (!isId(testId)) return yield* new SelectionError({ message: `test id ${JSON.stringify(testId)}: must be 1-64 of A-Z a-z 0-9 _ -` })
    const barrier = options.barrier ?? chosen.length > 1
    const commands = startCommands(plan, testId, chosen, barrier)
    const update = options.onUpdate ?? (() => undefined)
    const tolerate = options.tolerateNodeLoss ?? false
    const ttlMs = p.bucketTtlMs > 0 ? p.bucketTtlMs : 15_000

    const nodes = new Map<string, NodeState>(commands.map(({ share }) => [share.nodeId, { nodeId: share.nodeId, share, status: "sent" as NodeStatus, lastSeen: startNow, unlisted: 0 }]))
    const merger = new WindowMerger(chosen, { lagMs: options.lagMs ?? 1500 })
    const problems: Array<string> = []
    const tolerated: Array<string> = []
    // Terminal status lines wait (at most the merge lag) for the node's final window.
    const live = new LiveView(chosen, update, startNow, { holdMs: options.lagMs ?? 1500, lateAfterMs: options.lateAfterMs })
    let stopping = false
    let mustAbort = false
    let changed = Deferred.makeUnsafe<void>()
    const notify = () => {
      const d = changed
      changed = Deferred.makeUnsafe<void>()
      Deferred.doneUnsafe(d, Effect.void)
    }
    const ended = (n: NodeState) => endedStatuses.has(n.status)
    const setStatus = (n: NodeState, status: NodeStatus, error?: string) => {
      if (n.status === status) return
      n.status = status
      if (error !== undefined) n.error = error
      live.status(n.nodeId, status, error)
    }
    const lose = (n: NodeState, status: NodeStatus, why: string) => {
      setStatus(n, status, why)
      merger.nodeGone(n.nodeId)
      if (stopping) return
      if (tolerate) tolerated.push(n.nodeId)
      else {
        problems.push(`node ${n.nodeId} ${why}`)
        mustAbort = true
      }
    }

    const onEvent = (e: WireEvent, now: number) => {
      const n = nodes.get(e.nodeId)
      if (n === undefined || ended(n)) return
      n.lastSeen = Math.max(n.lastSeen, now)
      switch (e.kind) {
        case "accepted":
          if (n.status === "sent") setStatus(n, "accepted")
          break
        case "ready":
          if (n.status === "sent" || n.status === "accepted") setStatus(n, "ready")
          break
        case "started":
          setStatus(n, "running")
          break
        case "rejected":
          setStatus(n, "rejected", `${e.code}: ${e.message}`)
          merger.nodeGone(n.nodeId)
          break
        case "finished":
          n.summary = e.summary
          setStatus(n, "finished")
          break
        case "failed": {
          n.summary = e.summary
          lose(n, "failed", `failed: ${e.error.code}: ${e.error.message}`)
          break
        }
        case "stopped":
          n.summary = e.summary
          if (!stopping && e.reason === "daemon shutdown") lose(n, "stopped", "stopped: its daemon shut down")
          else setStatus(n, "stopped", e.reason)
          break
      }
    }
    const onHeartbeat = (nodeId: string, present: boolean, now: number, tests?: ReadonlyArray<string>) => {
      const n = nodes.get(nodeId)
      if (n === undefined || ended(n)) return
      if (!present) return lose(n, "lost", "lost: its heartbeat was deleted (the node shut down)")
      n.lastSeen = now
      // A node that accepted the test and no longer lists it has lost it (it restarted inside
      // the heartbeat TTL, say). Two in a row: one heartbeat may predate the acceptance.
      if (tests !== undefined && n.status !== "sent") {
        n.unlisted = tests.includes(testId) ? 0 : n.unlisted + 1
        if (n.unlisted >= 2) lose(n, "lost", "lost: its heartbeat no longer lists the test")
      }
    }
    const checkExpiry = (now: number) => {
      for (const n of nodes.values()) {
        if (!ended(n) && now - n.lastSeen > ttlMs + 1000) lose(n, "lost", `lost: no heartbeat for ${((now - n.lastSeen) / 1000).toFixed(1)} s (bucket TTL ${ttlMs / 1000} s)`)
      }
    }
    const emit = (now: number) => live.points(merger.tick(now))

    const waitFor = (pred: () => boolean, timeout?: Duration.Input): Effect.Effect<boolean> => {
      const loop: Effect.Effect<boolean> = Effect.suspend(() => (pred() ? Effect.succeed(true) : Effect.andThen(Deferred.await(changed), loop)))
      return timeout === undefined ? loop : Effect.map(Effect.timeoutOption(loop, timeout), (o) => o._tag === "Some")
    }
    const withNow = <A>(f: (a: A, now: number) => void) => (a: A) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          f(a, now)
          notify()
        })
      )
    const follow = <A, E extends { message: string }>(what: string, s: Stream.Stream<A, E>, f: (a: A, now: number) => void) =>
      Stream.runForEach(s, withNow(f)).pipe(
        Effect.catch((e) =>
          Effect.sync(() => {
            if (!stopping) {
              problems.push(`the ${what} stream failed: ${e.message}`)
              mustAbort = true
            }
            notify()
          })
        ),
        Effect.forkScoped
      )

    // Followers first: events and windows are read from the stream's start, so nothing sent
    // in between is missed.
    yield* follow("events", p.events(testId), onEvent)
    yield* follow("results", p.results(testId), (w, now) => {
      if (!nodes.has(w.nodeId) || !merger.add(w, now)) return
      live.window(w.nodeId, w.seq, w.final, now)
      // A second is shown as soon as it is complete, not on the next tick.
      emit(now)
    })
    yield* follow("heartbeat", p.watchNodes, (c, now) => onHeartbeat(c.nodeId, c.op === "put", now, c.op === "put" ? c.heartbeat.tests : undefined))
    yield* Effect.gen(function*() {
      for (;;) {
        yield* Effect.sleep("250 millis")
        const now = yield* Clock.currentTimeMillis
        checkExpiry(now)
        emit(now)
        live.tick(now)
        notify()
      }
    }).pipe(Effect.forkScoped)

    const stopNodes = (reason: string) =>
      Effect.gen(function*() {
        stopping = true
        const running = [...nodes.values()].filter((n) => !ended(n))
        if (running.length === 0) return
        update({ type: "phase", message: `stopping ${running.map((n) => n.nodeId).join(", ")}: ${reason}` })
        yield* Effect.forEach(running, (n) => p.send(n.nodeId, { kind: "stop", testId, reason }).pipe(Effect.ignore), { concurrency: "unbounded" })
        const all = yield* waitFor(() => running.every(ended), options.stopTimeout ?? "30 seconds")
        if (!all) for (const n of running) if (!ended(n)) setStatus(n, "lost", "no terminal event after stop")
      })
    const lock = yield* Semaphore.make(1)
    const result = Deferred.makeUnsafe<LaunchReport>()
    const conclude = (interrupted: boolean) =>
      Effect.gen(function*() {
        yield* waitFor(() => merger.allFinal, options.finalWait ?? "5 seconds")
        emit(Number.POSITIVE_INFINITY)
        live.flush()
        const report = finishReport({
          testId,
          merger,
          nodes: [...nodes.values()].map((n) => ({ nodeId: n.nodeId, status: n.status, error: n.error, summary: n.summary, users: n.share.users, rate: n.share.rate })),
          thresholds: plan.thresholds,
          order: plan.requestNames,
          interrupted,
          problems,
          tolerated
        })
        yield* Deferred.succeed(result, report)
        return report
      })
    const once = (body: Effect.Effect<LaunchReport>) =>
      Semaphore.withPermits(lock, 1)(Effect.suspend(() => (Deferred.isDoneUnsafe(result) ? Deferred.await(result) : body)))
    const abort = (reason: string) => once(Effect.andThen(stopNodes(reason), conclude(true)))
    // Whatever ends the scope (Ctrl-C, an error, the embedding program) stops running nodes.
    yield* Effect.addFinalizer(() => Effect.asVoid(abort("controller closed")))

    const failStart = (what: string) =>
      Effect.gen(function*() {
        const bad = [...nodes.values()].filter((n) => n.error !== undefined || n.status === "sent")
        const message = `${what}: ${bad.map((n) => `${n.nodeId} ${n.error ?? "did not answer"}`).join("; ")}`
        problems.push(message)
        yield* abort(message)
        return yield* new GridLaunchError({ testId, message })
      })

    update({ type: "phase", message: `test ${testId}: starting ${plan.tool} on ${chosen.join(", ")}${barrier ? " (barrier)" : ""}` })
    yield* Effect.forEach(commands, ({ command, share }) => p.send(share.nodeId, command), { concurrency: "unbounded", discard: true })
    const answered = yield* waitFor(() => [...nodes.values()].every((n) => n.status !== "sent"), options.acceptTimeout ?? "30 seconds")
    if (!answered || [...nodes.values()].some((n) => n.status === "rejected" || n.status === "failed")) {
      for (const n of nodes.values()) if (n.status === "sent") n.error = "did not answer the start command"
      return yield* failStart("the start was refused")
    }
    if (barrier) {
      const ready = yield* waitFor(() => mustAbort || [...nodes.values()].every((n) => n.status !== "accepted" && n.status !== "sent"), options.barrierTimeout ?? "60 seconds")
      if (!ready || mustAbort) {
        for (const n of nodes.values()) if (n.status === "accepted") n.error = "did not get ready at the barrier"
        return yield* failStart("not every node got ready")
      }
      yield* Effect.forEach(chosen, (nodeId) => p.send(nodeId, { kind: "go", testId }), { concurrency: "unbounded", discard: true })
      update({ type: "phase", message: `every node ready: go` })
    }

    const run = Effect.gen(function*() {
      yield* waitFor(() => mustAbort || [...nodes.values()].every(ended))
      if (mustAbort) yield* stopNodes(problems.join("; "))
      return yield* conclude(false)
    })
    return { testId, shares: commands.map((c) => c.share), await: once(run), abort } satisfies Launch
  })

/** Selects the nodes, waiting (bounded by `waitIdle`) while busy nodes are all that is missing:
 * a node ends its test a moment before its heartbeat says it is idle again. */
const waitForIdle = (p: Primitives, plan: Plan, selection: Selection, options: LaunchOptions) =>
  Effect.gen(function*() {
    const waitMs = Duration.toMillis(Duration.fromInputUnsafe(options.waitIdle ?? "30 seconds"))
    const deadline = (yield* Clock.currentTimeMillis) + waitMs
    let said = false
    for (;;) {
      const chosen = selectNodes(yield* p.nodes, plan.tool, selection)
      if (!(chosen instanceof SelectionError)) return chosen
      const now = yield* Clock.currentTimeMillis
      if (chosen.busy === undefined || waitMs <= 0) return yield* chosen
      if (now >= deadline) return yield* new SelectionError({ message: `${chosen.message}, still after waiting ${waitMs / 1000} s (--wait-idle)` })
      if (!said) {
        said = true
        options.onUpdate?.({ type: "phase", message: `waiting up to ${waitMs / 1000} s for ${chosen.busy.join(", ")} to become idle` })
      }
      yield* Effect.sleep("200 millis")
    }
  })

export type { Share }
