// The launch flow, built from the controller's primitives: pick the nodes, split the load,
// send the starts, wait for every `accepted` (and with a barrier every `ready`, then one `go`
// per node), then follow events, results and heartbeats until every node has ended. A node
// that fails or whose heartbeat expires is lost: the launch fails and the others are stopped,
// unless node loss is tolerated. Closing the launch's scope (Ctrl-C) stops whatever still runs.
// The state is one immutable value in a SubscriptionRef: the followers (events, results,
// heartbeats, a clock tick) update it through pure transitions, and every wait is a filter
// on its `changes`. The window merger and the live view stay mutable objects, told of each
// node's status change after the update. What the live view is told, and when (a merged
// second as soon as it is complete), is LiveView.ts's; the state and its transitions are
// LaunchState.ts's, waiting for busy nodes WaitIdle.ts's.
import { Clock, Deferred, Duration, Effect, Option, Schedule, Schema, type Scope, Semaphore, Stream, SubscriptionRef } from "effect"
import { isId } from "../protocol/names.ts"
import type { ResultWindow } from "../protocol/results.ts"
import { formatTraceparent } from "../protocol/traceContext.ts"
import type { ControllerError, NodeChange, Primitives, WireEvent } from "./NodeBus.ts"
import { type LaunchUpdate, LiveView, type NodeView } from "./LiveView.ts"
import { WindowMerger } from "./Merger.ts"
import type { Plan } from "./Plan.ts"
import { every, isEnded, type LaunchState, lose, setStatus, withNode } from "./LaunchState.ts"
import { finishReport, type LaunchReport, type NodeStatus } from "./Report.ts"
import { type Selection, SelectionError } from "./Selection.ts"
import { quorumLost } from "./QuorumWatch.ts"
import { waitForIdle } from "./WaitIdle.ts"
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
  /** The launch's lease: renewed every third of it while the launch lives; a node whose test's
   * lease is not renewed for this long stops it (`lease_expired`). None: no lease. */
  readonly lease?: Duration.Input | undefined
  /** Fire and forget: once every node started (or passed the barrier), the launch returns and
   * closing its scope no longer stops the nodes. Carries no lease. */
  readonly detach?: boolean | undefined
  /** Live view: merged seconds, node status changes, phases. Must not block. */
  readonly onUpdate?: ((u: LaunchUpdate) => void) | undefined
  /** Each window the merger took (once per node and seq): `--http-addr`'s RunMetrics. Must not block. */
  readonly onWindow?: ((w: ResultWindow) => void) | undefined
}

export interface Launch {
  readonly testId: string
  readonly shares: ReadonlyArray<Share>
  /** Runs until every node has ended (or the launch failed); the merged report. */
  readonly await: Effect.Effect<LaunchReport>
  /** Stops every node still running, waits (bounded) for them, and reports as interrupted. */
  readonly abort: (reason: string) => Effect.Effect<LaunchReport>
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
    const detach = options.detach === true
    const leaseSeconds = detach || options.lease === undefined || p.renewLease === undefined
      ? undefined
      : Duration.toMillis(Duration.fromInputUnsafe(options.lease)) / 1000
    const commands = startCommands(plan, testId, chosen, barrier).map((c) =>
      leaseSeconds === undefined ? c : { ...c, command: { ...c.command, leaseSeconds } })
    const update = options.onUpdate ?? (() => undefined)
    const tolerate = options.tolerateNodeLoss ?? false
    const ttlMs = p.bucketTtlMs > 0 ? p.bucketTtlMs : 15_000

    const merger = new WindowMerger(chosen, { lagMs: options.lagMs ?? 1500 })
    // Terminal status lines wait (at most the merge lag) for the node's final window.
    const live = new LiveView(chosen, update, startNow, { holdMs: options.lagMs ?? 1500, lateAfterMs: options.lateAfterMs })
    const state = yield* SubscriptionRef.make<LaunchState>({
      nodes: new Map(commands.map(({ share }) => [share.nodeId, { nodeId: share.nodeId, share, status: "sent", lastSeen: startNow, unlisted: 0 }])),
      problems: [],
      tolerated: [],
      stopping: false,
      mustAbort: false,
      allFinal: false
    })
    const loseNode = lose(tolerate)

    /** Applies a transition, then tells the live view and the merger what changed. */
    const transition = (f: (s: LaunchState, now: number) => LaunchState): Effect.Effect<void> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const [before, after] = yield* SubscriptionRef.modify(state, (s): [[LaunchState, LaunchState], LaunchState] => {
          const next = f(s, now)
          return [[s, next], next]
        })
        for (const n of after.nodes.values()) {
          const old = before.nodes.get(n.nodeId)
          if (old === undefined) continue
          if (old.status !== n.status) live.status(n.nodeId, n.status, n.error)
          // No seq waits for its windows any more.
          if (n.gone === true && old.gone !== true) merger.nodeGone(n.nodeId)
        }
        yield* syncFinal
      })
    const syncFinal = SubscriptionRef.updateSome(state, (s) => (s.allFinal === merger.allFinal ? Option.none() : Option.some({ ...s, allFinal: merger.allFinal })))

    const onEvent = (s: LaunchState, e: WireEvent, now: number): LaunchState => {
      const found = s.nodes.get(e.nodeId)
      if (found === undefined || isEnded(found)) return s
      const seen = withNode(s, found, { lastSeen: Math.max(found.lastSeen, now) })
      const n = seen.nodes.get(e.nodeId)!
      switch (e.kind) {
        case "accepted":
          return n.status === "sent" ? setStatus(seen, n, "accepted") : seen
        case "ready":
          return n.status === "sent" || n.status === "accepted" ? setStatus(seen, n, "ready") : seen
        case "started":
          return setStatus(seen, n, "running")
        case "rejected":
          return setStatus(seen, n, "rejected", `${e.code}: ${e.message}`, { gone: true })
        case "finished":
          return setStatus(seen, n, "finished", undefined, { summary: e.summary })
        case "failed":
          return loseNode(seen, n, "failed", `failed: ${e.error.code}: ${e.error.message}`, { summary: e.summary })
        case "stopped":
          return !s.stopping && e.reason === "daemon shutdown"
            ? loseNode(seen, n, "stopped", "stopped: its daemon shut down", { summary: e.summary })
            : setStatus(seen, n, "stopped", e.reason, { summary: e.summary })
        default:
          // A kind this controller does not know: the node is alive, nothing else changes.
          return seen
      }
    }
    const onHeartbeat = (s: LaunchState, c: NodeChange, now: number): LaunchState => {
      const n = s.nodes.get(c.nodeId)
      if (n === undefined || isEnded(n)) return s
      if (c.op === "delete") return loseNode(s, n, "lost", "lost: its heartbeat was deleted (the node shut down)")
      // A node that accepted the test and no longer lists it has lost it (it restarted inside
      // the heartbeat TTL, say). Two in a row: one heartbeat may predate the acceptance.
      const unlisted = n.status === "sent" ? n.unlisted : c.heartbeat.tests.includes(testId) ? 0 : n.unlisted + 1
      return unlisted >= 2
        ? loseNode(s, n, "lost", "lost: its heartbeat no longer lists the test", { lastSeen: now, unlisted })
        : withNode(s, n, { lastSeen: now, unlisted })
    }
    const checkExpiry = (s: LaunchState, now: number): LaunchState => {
      let next = s
      for (const n of s.nodes.values()) {
        if (!isEnded(n) && now - n.lastSeen > ttlMs + 1000) {
          next = loseNode(next, n, "lost", `lost: no heartbeat for ${((now - n.lastSeen) / 1000).toFixed(1)} s (bucket TTL ${ttlMs / 1000} s)`)
        }
      }
      return next
    }
    const emit = (now: number) => live.points(merger.tick(now))

    /** Waits until the state satisfies `pred`; with a timeout, false when it ran out. */
    const waitFor = (pred: (s: LaunchState) => boolean, timeout?: Duration.Input): Effect.Effect<boolean> => {
      const wait = SubscriptionRef.changes(state).pipe(Stream.filter(pred), Stream.take(1), Stream.runDrain, Effect.as(true))
      return timeout === undefined ? wait : Effect.map(Effect.timeoutOption(wait, timeout), (o) => o._tag === "Some")
    }
    const follow = <A, E extends { message: string }>(what: string, s: Stream.Stream<A, E>, f: (a: A) => Effect.Effect<void>) =>
      Stream.runForEach(s, f).pipe(
        Effect.catch((e) =>
          transition((st) => (st.stopping ? st : { ...st, problems: [...st.problems, `the ${what} stream failed: ${e.message}`], mustAbort: true }))
        ),
        Effect.forkScoped
      )

    // Followers first: events and windows are read from the stream's start, so nothing sent
    // in between is missed.
    yield* follow("events", p.events(testId), (e) => transition((s, now) => onEvent(s, e, now)))
    yield* follow("results", p.results(testId), (w) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const s = yield* SubscriptionRef.get(state)
        if (!s.nodes.has(w.nodeId) || !merger.add(w, now)) return
        live.window(w.nodeId, w.seq, w.final, now)
        options.onWindow?.(w)
        // A second is shown as soon as it is complete, not on the next tick.
        emit(now)
        // Only a final window can complete the merger (a node gone is a transition's); the
        // state is not touched for the thousand other windows a second of a large launch.
        if (w.final) yield* syncFinal
      }))
    yield* follow("heartbeat", p.watchNodes, (c) => transition((s, now) => onHeartbeat(s, c, now)))
    // A cluster that lost quorum fails nothing, it only goes silent: say so, as the first reason.
    yield* quorumLost(p).pipe(
      Effect.flatMap((why) => transition((s) => ({ ...s, problems: [why, ...s.problems], mustAbort: true }))),
      Effect.forkScoped
    )
    yield* Effect.gen(function*() {
      for (;;) {
        yield* Effect.sleep("250 millis")
        yield* transition(checkExpiry)
        const now = yield* Clock.currentTimeMillis
        emit(now)
        live.tick(now)
      }
    }).pipe(Effect.forkScoped)

    const stopNodes = (reason: string) =>
      Effect.gen(function*() {
        yield* transition((s) => ({ ...s, stopping: true }))
        const running = [...(yield* SubscriptionRef.get(state)).nodes.values()].filter((n) => !isEnded(n)).map((n) => n.nodeId)
        if (running.length === 0) return
        update({ type: "phase", message: `stopping ${running.join(", ")}: ${reason}` })
        yield* Effect.forEach(running, (nodeId) => p.send(nodeId, { kind: "stop", testId, reason }).pipe(Effect.ignore), { concurrency: "unbounded" })
        const ended = (s: LaunchState) => running.every((id) => isEnded(s.nodes.get(id)!))
        const all = yield* waitFor(ended, options.stopTimeout ?? "30 seconds")
        if (!all) {
          yield* transition((s) =>
            running.reduce((acc, id) => {
              const n = acc.nodes.get(id)!
              return isEnded(n) ? acc : setStatus(acc, n, "lost", "no terminal event after stop")
            }, s)
          )
        }
      })
    const lock = yield* Semaphore.make(1)
    const result = Deferred.makeUnsafe<LaunchReport>()
    const conclude = (interrupted: boolean) =>
      Effect.gen(function*() {
        yield* waitFor((s) => s.allFinal, options.finalWait ?? "5 seconds")
        emit(Number.POSITIVE_INFINITY)
        live.flush()
        // A node that finished without its final window reaching us: the totals miss some of
        // its results, which must not pass for a complete run. A tool without results (its
        // summary null, no window sent) has no final window to miss.
        if (!interrupted) {
          yield* transition((s) => {
            const missing = [...s.nodes.values()].filter((n) => n.status === "finished" && merger.nodes.get(n.nodeId)?.finalSeq === undefined &&
              (n.summary != null || (merger.nodes.get(n.nodeId)?.windows ?? 0) > 0))
            return missing.length === 0 ? s : {
              ...s,
              problems: [...s.problems, ...missing.map((n) => `node ${n.nodeId} finished but its final result window never arrived: the merged results are incomplete`)]
            }
          })
        }
        const s = yield* SubscriptionRef.get(state)
        const report = finishReport({
          testId,
          merger,
          nodes: [...s.nodes.values()].map((n) => ({ nodeId: n.nodeId, status: n.status, error: n.error, summary: n.summary, users: n.share.users, rate: n.share.rate })),
          thresholds: plan.thresholds,
          order: plan.requestNames,
          interrupted,
          problems: s.problems,
          tolerated: s.tolerated
        })
        yield* Deferred.succeed(result, report)
        return report
      })
    const once = (body: Effect.Effect<LaunchReport>) =>
      Semaphore.withPermits(lock, 1)(Effect.suspend(() => (Deferred.isDoneUnsafe(result) ? Deferred.await(result) : body)))
    const abort = (reason: string) => once(Effect.andThen(stopNodes(reason), conclude(true)))
    // Whatever ends the scope (Ctrl-C, an error, the embedding program) stops running nodes,
    // unless the launch was detached (and then once it is under way: see below).
    let detached = false
    yield* Effect.addFinalizer(() => (detached ? Effect.void : Effect.asVoid(abort("controller closed"))))

    /** Marks the nodes that did not get as far as `stage`, fails the launch and stops the rest. */
    const failStart = (what: string, behind: NodeStatus, why: string) =>
      Effect.gen(function*() {
        let message = ""
        yield* transition((s) => {
          let next = s
          for (const n of s.nodes.values()) if (n.status === behind) next = withNode(next, n, { error: why })
          const bad = [...next.nodes.values()].filter((n) => n.error !== undefined || n.status === "sent")
          message = `${what}: ${bad.map((n) => `${n.nodeId} ${n.error ?? "did not answer"}`).join("; ")}`
          return { ...next, problems: [...next.problems, message] }
        })
        yield* abort(message)
        return yield* new GridLaunchError({ testId, message })
      })

    update({ type: "phase", message: `test ${testId}: starting ${plan.tool} on ${chosen.join(", ")}${barrier ? " (barrier)" : ""}` })
    // The launch's span is every node's parent: one trace shows the test across the fleet.
    const span = yield* Effect.option(Effect.currentSpan)
    const trace = Option.isSome(span) ? { traceparent: formatTraceparent(span.value) } : {}
    // The lease is put before any start, then renewed while this scope lives: a SIGKILLed
    // launch stops renewing, and its nodes stop the test (docs/protocol.md "Leases").
    const renew = p.renewLease
    if (leaseSeconds !== undefined && renew !== undefined) {
      yield* renew(testId, leaseSeconds).pipe(Effect.mapError((e) => new GridLaunchError({ testId, message: e.message })))
      yield* renew(testId, leaseSeconds).pipe(
        Effect.catch((e) => Effect.logWarning(`lease of ${testId} not renewed: ${e.message}`)),
        Effect.repeat(Schedule.spaced(Duration.millis(Math.max(200, (leaseSeconds * 1000) / 3)))),
        Effect.forkScoped
      )
    }
    if (detach) update({ type: "phase", message: `detached: no lease; the test is bounded by its duration and each node's --max-duration` })
    yield* Effect.forEach(commands, ({ command, share }) => p.send(share.nodeId, { ...command, ...trace }), { concurrency: "unbounded", discard: true })
    const answered = yield* waitFor((s) => every(s, (n) => n.status !== "sent"), options.acceptTimeout ?? "30 seconds")
    const refused = !every(yield* SubscriptionRef.get(state), (n) => n.status !== "rejected" && n.status !== "failed")
    if (!answered || refused) return yield* failStart("the start was refused", "sent", "did not answer the start command")
    if (barrier) {
      const ready = yield* waitFor((s) => s.mustAbort || every(s, (n) => n.status !== "accepted" && n.status !== "sent"), options.barrierTimeout ?? "60 seconds")
      if (!ready || (yield* SubscriptionRef.get(state)).mustAbort) return yield* failStart("not every node got ready", "accepted", "did not get ready at the barrier")
      yield* Effect.forEach(chosen, (nodeId) => p.send(nodeId, { kind: "go", testId }), { concurrency: "unbounded", discard: true })
      update({ type: "phase", message: `every node ready: go` })
    }
    if (detach) detached = true

    const run = Effect.gen(function*() {
      yield* waitFor((s) => s.mustAbort || every(s, isEnded))
      const s = yield* SubscriptionRef.get(state)
      if (s.mustAbort) yield* stopNodes(s.problems.join("; "))
      return yield* conclude(false)
    })
    return { testId, shares: commands.map((c) => c.share), await: once(run), abort } satisfies Launch
  })

export type { Share }
