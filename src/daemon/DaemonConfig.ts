// The node's configuration, as one record: filled from flags/env by `grid daemon`
// (src/cli/daemon.ts) or directly by a program embedding GridDaemon.layer. It is the composite of
// the components' own options (each takes the part it needs: ControlOptions, HealthOptions,
// RunnerOptions, NatsSettings) and lives here, at the top: nothing below src/daemon/ imports it.
import { Duration } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import type { AllowList } from "../engine/TargetAllowList.ts"
import type { NatsAuth } from "../nats/NatsAuth.ts"
import type { RunnerName } from "../runner/Backend.ts"
import { sanitizeId } from "../protocol/names.ts"

export interface DaemonSettings {
  readonly natsUrl: string
  readonly nats: NatsAuth
  /** Replicas of the JetStream assets this node creates (`--stream-replicas`); server default when absent. */
  readonly streamReplicas?: number | undefined
  readonly nodeId: string
  readonly gridId: string
  readonly workDir: string
  readonly subjectPrefix: string
  readonly heartbeatInterval: Duration.Duration
  /** Bucket TTL used when this node creates `grid_nodes`. */
  readonly nodeTtl: Duration.Duration
  readonly capacity: number
  readonly defaultRunner: RunnerName
  readonly stopGrace: Duration.Duration
  /** Node-wide bound on a test's duration (and on a barrier wait). */
  readonly maxDuration: Duration.Duration
  readonly channel: string
  readonly labels: Readonly<Record<string, string>>
  /** Larger commands are rejected as `invalid_command`. */
  readonly maxCommandBytes: number
  /** How long shutdown waits for queued events to reach JetStream. */
  readonly flushTimeout: Duration.Duration
  /** Result window length. */
  readonly windowMs: number
  /** A test whose result file has not appeared after this long fails with `results_missing`. */
  readonly resultsTimeout: Duration.Duration
  /** How often leftovers no running test owns are swept (containers, processes, work dirs). */
  readonly sweepInterval: Duration.Duration
  /** Paths of tool binaries that are not on PATH (e.g. `{ jmeter: "/opt/jmeter/bin/jmeter" }`). */
  readonly toolPaths: Readonly<Record<string, string>>
  /** A node that cannot reach NATS this long stops its tests (`control_lost`); zero: never. */
  readonly controlLossTimeout: Duration.Duration
  /** Where `/healthz`, `/readyz` and `/metrics` are served; none when absent (the default). */
  readonly httpAddr?: { readonly host: string; readonly port: number } | undefined
  /** Where this node may send load (`--allow-target`, parsed with parseAllowList); anywhere when absent. */
  readonly allowTargets?: AllowList | undefined
  /** Tools whose targets cannot be checked that an allow-list still admits (`--allow-tools`). */
  readonly allowTools?: ReadonlyArray<string> | undefined
  /** Built-in engine workers for a test that names none (`--engine-workers`); the cores when absent. */
  readonly engineWorkers?: number | undefined
}

export const defaultSettings = (overrides: Partial<DaemonSettings> = {}): DaemonSettings => ({
  natsUrl: "nats://127.0.0.1:4222",
  nats: {},
  nodeId: sanitizeId(os.hostname()),
  gridId: "default",
  workDir: path.join(os.tmpdir(), "grid"),
  subjectPrefix: "grid",
  heartbeatInterval: Duration.seconds(5),
  nodeTtl: Duration.seconds(15),
  capacity: 1,
  defaultRunner: "process",
  stopGrace: Duration.seconds(10),
  maxDuration: Duration.hours(24),
  channel: "stable",
  labels: {},
  maxCommandBytes: 1024 * 1024,
  flushTimeout: Duration.seconds(10),
  windowMs: 1000,
  resultsTimeout: Duration.seconds(60),
  sweepInterval: Duration.minutes(1),
  toolPaths: {},
  controlLossTimeout: Duration.minutes(2),
  ...overrides
})


/** NatsAuth moved to src/nats/NatsAuth.ts; re-exported for programs that embed the node. */
export type { NatsAuth }
