// The health reporter component: puts the node's heartbeat record every interval (through
// Schedule, so TestClock drives it in tests). The daemon deletes the record on clean shutdown,
// after the tests have ended (src/daemon/GridDaemon.ts orders that). A failed put is logged
// and retried next tick: NATS being away must not bring the node down.
import { Clock, Duration, Effect, Schedule } from "effect"
import { DaemonConfig } from "../daemon/DaemonConfig.ts"
import { Backends } from "../runner/Backends.ts"
import { TestManager } from "../runner/TestManager.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import type { Heartbeat } from "../protocol/health.ts"
import { NodeRegistry } from "./NodeRegistry.ts"
import { makeStatsReader } from "./SystemStats.ts"

export const VERSION = "0.1.0"

export const healthReporter = Effect.gen(function*() {
  const config = yield* DaemonConfig
  const registry = yield* NodeRegistry
  const manager = yield* TestManager
  const backends = yield* Backends
  const tools = yield* ToolRegistry
  const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
  const stats = makeStatsReader(config.workDir)

  const heartbeat = Effect.gen(function*() {
    const runners = yield* backends.available
    const hb: Heartbeat = {
      nodeId: config.nodeId,
      gridId: config.gridId,
      version: VERSION,
      channel: config.channel,
      labels: config.labels,
      state: yield* manager.state,
      tests: yield* manager.running,
      capacity: config.capacity,
      tools: yield* tools.usable(runners),
      runners,
      ...stats(),
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
  return yield* Effect.repeat(beat, Schedule.spaced(config.heartbeatInterval)).pipe(Effect.andThen(Effect.never))
})
