// Decides on every typed command (pause and capacity by the live flags, duplicates, expiry,
// draining) and owns the
// fibers of the running tests. The control listener hands it commands; `grid run` and
// tests call it directly. On shutdown (its scope closing) it stops every test with its
// grace and waits for their terminal events; a second signal skips the grace (`force`).
import { Clock, Context, Deferred, Duration, Effect, FiberSet, FileSystem, Layer, Path, PubSub, Ref, Stream } from "effect"
import { booleanFlag, numberFlag } from "../flags/FlagResolver.ts"
import { NodeFlags } from "../flags/NodeFlags.ts"
import type { Command, StartCommand } from "../protocol/commands.ts"
import { type RejectCode, rejectedEvent } from "../protocol/events.ts"
import type { NodeState } from "../protocol/health.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import { Backends } from "./Backends.ts"
import { EventSink } from "./EventSink.ts"
import { LEASE_EXPIRED, LeaseWatch } from "./LeaseWatch.ts"
import { ResultIngest } from "./ResultIngest.ts"
import { makeTestControl, type TestControl } from "./TestControl.ts"
import type { RunnerOptions } from "./RunnerOptions.ts"
import { runTest } from "./TestRun.ts"

/** How many command and test ids are remembered for deduplication. */
const REMEMBERED = 10_000

export class TestManager extends Context.Service<TestManager, {
  /** Decides on a command; returns once decided (the control message may then be acked). */
  readonly handle: (command: Command) => Effect.Effect<void>
  readonly running: Effect.Effect<ReadonlyArray<string>>
  readonly state: Effect.Effect<NodeState>
  /** Fires after every change of `state` or `running`: the heartbeat is published at once, so a
   * controller does not see a node busy for a heartbeat interval after its test ended. */
  readonly changes: Stream.Stream<void>
  /** Completes once a drain was asked for and no test runs any more. */
  readonly drained: Effect.Effect<void>
  /** Stops accepting and stops every test; `force` skips their grace. */
  readonly shutdown: (reason: string) => Effect.Effect<void>
  /** Stops, with their grace, the tests this node took before `before` (ms, this node's clock;
   * every test when absent) and goes on accepting; the ids of the tests it stopped. */
  readonly stopTests: (request: { readonly reason: string; readonly before?: number | undefined; readonly commandId?: string | undefined }) => Effect.Effect<ReadonlyArray<string>>
  readonly force: Effect.Effect<void>
}>()("grid/runner/TestManager") {
  static readonly layer = (config: RunnerOptions) => Layer.effect(
    TestManager,
    Effect.gen(function*() {
      const events = yield* EventSink
      const services = yield* Effect.context<
        EventSink | ToolRegistry | Backends | ResultIngest | FileSystem.FileSystem | Path.Path
      >()
      const fibers = yield* FiberSet.make<void>()
      const tests = new Map<string, TestControl>()
      /** When each running test's command was taken (this node's clock, ms). */
      const takenAt = new Map<string, number>()
      const leases = yield* Effect.serviceOption(LeaseWatch)
      // The live flags (NodeFlags.ts), read once per start: a change reaches the tests that
      // start after it, never a running one.
      const nodeFlags = yield* Effect.serviceOption(NodeFlags)
      /** Tests holding one of the node's `capacity` slots (decided valid, not yet ended). */
      const admitted = new Set<string>()
      const seenCommands = new Set<string>()
      const seenTests = new Set<string>()
      const draining = yield* Ref.make(false)
      const drained = yield* Deferred.make<void>()
      const forced = yield* Ref.make(false)
      // Sliding: a slow subscriber sees that something changed, not every change.
      const changed = yield* PubSub.sliding<void>(1)
      const signal = PubSub.publish(changed, undefined)

      const remember = (set: Set<string>, id: string) => {
        set.add(id)
        if (set.size > REMEMBERED) set.delete(set.values().next().value!)
      }
      const checkDrained = Effect.flatMap(Ref.get(draining), (d) =>
        d && tests.size === 0 ? Deferred.succeed(drained, undefined) : Effect.void)

      const reject = (command: { commandId: string; testId?: string | undefined }, code: RejectCode, message: string) =>
        Effect.flatMap(Clock.currentTimeMillis, (ms) => events.publish(rejectedEvent(config.nodeId, command, code, message, ms)))

      const start = Effect.fnUntraced(function*(command: StartCommand) {
        if (yield* Ref.get(draining)) return yield* reject(command, "draining", "the node is draining and accepts no new tests")
        const flags = nodeFlags._tag === "Some" ? yield* nodeFlags.value.current : undefined
        if (booleanFlag(flags, "accept") === false) {
          const at = flags!.flags.accept
          return yield* reject(command, "paused", `the node is paused (flag accept=false${at?.key !== undefined ? `, ${at.key}` : ""}) and takes no new tests`)
        }
        const capacity = numberFlag(flags, "capacity") ?? config.capacity
        if (command.notAfter !== undefined && Date.parse(command.notAfter) < (yield* Clock.currentTimeMillis)) {
          return yield* reject(command, "expired", `the command arrived after its notAfter (${command.notAfter})`)
        }
        if (tests.has(command.testId) || seenTests.has(command.testId)) {
          return yield* reject(command, "duplicate_test", `test ${command.testId} already ran or runs on this node`)
        }
        // Capacity is taken by the test itself once it proved valid (`admit`): an invalid start
        // on a busy node is answered with what is wrong with it, not `busy`.
        const admit = Effect.sync(() => {
          if (admitted.size >= capacity) return `the node runs ${admitted.size} of ${capacity} tests at once`
          admitted.add(command.testId)
          return undefined
        })
        const control = yield* makeTestControl(command.testId, command.commandId, admit)
        tests.set(command.testId, control)
        takenAt.set(command.testId, yield* Clock.currentTimeMillis)
        remember(seenTests, command.testId)
        yield* signal
        // A leased test whose launch stopped renewing is stopped like by a stop command, with
        // the node's grace; the watch ends with the test.
        const leaseSeconds = command.leaseSeconds
        const watched = leaseSeconds === undefined || leases._tag === "None"
          ? runTest(command, control, config, flags)
          : Effect.raceFirst(
            runTest(command, control, config, flags),
            leases.value.expired(command.testId, Duration.seconds(leaseSeconds)).pipe(
              Effect.andThen(Effect.logWarning(`test ${command.testId}: its lease was not renewed for ${leaseSeconds} s; stopping it`)),
              Effect.andThen(Deferred.succeed(control.stop, { reason: LEASE_EXPIRED, grace: config.stopGrace })),
              Effect.andThen(Effect.never)
            )
          )
        yield* watched.pipe(
          Effect.ensuring(Effect.suspend(() => {
            tests.delete(command.testId)
            takenAt.delete(command.testId)
            admitted.delete(command.testId)
            return Effect.andThen(checkDrained, signal)
          })),
          Effect.provideContext(services),
          FiberSet.run(fibers)
        )
        const decision = yield* Deferred.await(control.decided)
        // A refused start did not run: the same test id may come again, corrected.
        if (decision._tag === "Rejected") seenTests.delete(command.testId)
      })

      const stopAll = (reason: string) =>
        Effect.gen(function*() {
          yield* Ref.set(draining, true)
          yield* signal
          const force = yield* Ref.get(forced)
          for (const control of tests.values()) {
            yield* Deferred.succeed(control.stop, { reason, grace: force ? Duration.zero : config.stopGrace })
          }
          yield* FiberSet.awaitEmpty(fibers)
        })

      yield* Effect.addFinalizer(() => stopAll("daemon shutdown"))

      const handle = (command: Command): Effect.Effect<void> => {
        if (seenCommands.has(command.commandId)) {
          // A redelivery or a duplicate publish: already decided, never act twice.
          return Effect.logDebug(`duplicate command ${command.commandId} ignored`)
        }
        remember(seenCommands, command.commandId)
        switch (command.kind) {
          case "start":
            return start(command)
          case "stop": {
            const control = tests.get(command.testId)
            if (!control) return reject(command, "unknown_test", `test ${command.testId} does not run on this node`)
            return Deferred.succeed(control.stop, {
              reason: command.reason ?? "stopped by command",
              grace: command.graceSeconds !== undefined ? Duration.seconds(command.graceSeconds) : config.stopGrace,
              commandId: command.commandId
            }).pipe(Effect.asVoid)
          }
          case "go": {
            const control = tests.get(command.testId)
            return Effect.flatMap(control ? Ref.get(control.atBarrier) : Effect.succeed(false), (waiting) =>
              waiting && control
                ? Effect.asVoid(Deferred.succeed(control.go, undefined))
                : reject(command, "unknown_test", `test ${command.testId} is not waiting at a barrier on this node`))
          }
          case "drain":
            return Ref.set(draining, true).pipe(Effect.andThen(signal), Effect.andThen(checkDrained))
        }
      }

      return TestManager.of({
        handle,
        running: Effect.sync(() => [...tests.keys()]),
        state: Effect.map(Ref.get(draining), (d) => (d ? "draining" : tests.size > 0 ? "busy" : "idle")),
        changes: Stream.fromPubSub(changed),
        drained: Deferred.await(drained),
        shutdown: stopAll,
        stopTests: ({ reason, before, commandId }) =>
          Effect.gen(function*() {
            const stopped: Array<string> = []
            for (const [testId, control] of tests) {
              const at = takenAt.get(testId)
              if (before !== undefined && (at === undefined || at >= before)) continue
              // Already stopping (a stop command, an earlier order): the first reason stands.
              if (yield* Deferred.succeed(control.stop, { reason, grace: config.stopGrace, ...(commandId !== undefined ? { commandId } : {}) })) stopped.push(testId)
            }
            return stopped
          }),
        force: Effect.gen(function*() {
          yield* Ref.set(forced, true)
          for (const control of tests.values()) {
            yield* Deferred.succeed(control.force, undefined)
            yield* Deferred.succeed(control.stop, { reason: "daemon shutdown", grace: Duration.zero })
          }
        })
      })
    })
  )
}
