// The health reporter component: puts the node's heartbeat record every interval (through
// Schedule, so TestClock drives it in tests) and at once on every change of the node's state or
// tests, so a controller sees a node idle as soon as its test ended. The daemon deletes the
// record on clean shutdown, after the tests have ended (src/daemon/GridDaemon.ts orders that).
// A failed put is logged and retried next tick: NATS being away must not bring the node down.
import { Clock, Duration, Effect, Schedule, Stream } from "effect"
import { booleanFlag, type EffectiveFlags, numberFlag } from "../flags/FlagResolver.ts"
import type { ToolName } from "../protocol/commands.ts"
import { NodeFlags } from "../flags/NodeFlags.ts"
import { Backends } from "../runner/Backends.ts"
import { TestManager } from "../runner/TestManager.ts"
import { EventSink } from "../runner/EventSink.ts"
import { type ToolOverride, ToolRegistry } from "../tools/ToolRegistry.ts"
import type { Heartbeat } from "../protocol/health.ts"
import { NodeRegistry } from "./NodeRegistry.ts"
import { makeStatsReader } from "./SystemStats.ts"
// One version for the CLI and heartbeats, in a module that loads nothing.
import { VERSION } from "../version.ts"

/** What the heartbeat says of its node, and how often. */
export interface HealthOptions {
  readonly nodeId: string
  readonly gridId: string
  readonly channel: string
  readonly labels: Readonly<Record<string, string>>
  readonly capacity: number
  readonly heartbeatInterval: Duration.Duration
  /** The work-dir root, whose disk space is reported. */
  readonly workDir: string
}

/** The tools' binaries by the live flags `tools.<tool>.path`: the heartbeat advertises what the
 * next test would run. */
const toolOverrides = (flags: EffectiveFlags | undefined): Partial<Record<ToolName, ToolOverride>> =>
  Object.fromEntries(Object.entries(flags?.flags ?? {}).flatMap(([flag, r]) => {
    const m = /^tools\.([a-z0-9]+)\.path$/.exec(flag)
    return m !== null && typeof r.value === "string" ? [[m[1]!, { path: r.value }]] : []
  }))

export const healthReporter = (config: HealthOptions) => Effect.gen(function*() {
  const registry = yield* NodeRegistry
  const manager = yield* TestManager
  const backends = yield* Backends
  const tools = yield* ToolRegistry
  const events = yield* EventSink
  // Events waiting longer than two heartbeats are stuck, not just slow.
  const stuckAfterMs = 2 * Duration.toMillis(config.heartbeatInterval)
  const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
  const stats = makeStatsReader(config.workDir)
  const nodeFlags = yield* Effect.serviceOption(NodeFlags)

  const heartbeat = Effect.gen(function*() {
    const runners = yield* backends.available
    const delivery = yield* events.stats
    const problems = delivery.oldestAgeMs > stuckAfterMs
      ? [`${delivery.depth} event(s) unpublished, the oldest for ${Math.round(delivery.oldestAgeMs / 1000)} s`]
      : []
    const flags = nodeFlags._tag === "Some" ? yield* nodeFlags.value.current : undefined
    const hb: Heartbeat = {
      nodeId: config.nodeId,
      gridId: config.gridId,
      version: VERSION,
      channel: config.channel,
      labels: config.labels,
      state: yield* manager.state,
      tests: yield* manager.running,
      capacity: numberFlag(flags, "capacity") ?? config.capacity,
      tools: yield* tools.usable(runners, toolOverrides(flags)),
      runners,
      ...stats(),
      healthy: problems.length === 0,
      problems,
      outbox: { events: delivery },
      ...(flags !== undefined && nodeFlags._tag === "Some"
        ? { flagsRevision: flags.revision, accepting: booleanFlag(flags, "accept") !== false, ownFlags: nodeFlags.value.own }
        : {}),
      startedAt,
      at: new Date(yield* Clock.currentTimeMillis).toISOString()
    }
    return hb
  })

  const beat = heartbeat.pipe(
    Effect.flatMap(registry.put),
    Effect.catch((e) => Effect.logWarning(e.message))
  )
  yield* Effect.logDebug(`heartbeat every ${Duration.format(config.heartbeatInterval)}`)
  // A change of the live flags is told at once too: `grid nodes` shows the revision applied.
  const changes = nodeFlags._tag === "Some" ? Stream.merge(manager.changes, Stream.drop(nodeFlags.value.changes, 1)) : manager.changes
  const onChange = Stream.runForEach(changes, () => beat)
  const onTimer = Effect.repeat(beat, Schedule.spaced(config.heartbeatInterval)).pipe(Effect.andThen(Effect.never))
  return yield* Effect.all([onTimer, onChange], { concurrency: 2, discard: true }).pipe(Effect.andThen(Effect.never))
})
