// The node's Prometheus instruments, as effect `Metric`s in the process's one registry. The
// components that know a fact report it here (the result publisher its windows, the orphan sweep
// what it removed, the NATS side its reconnects, the event tap of EventMetrics.ts the tests'
// lifecycle); `grid daemon --http-addr` serves the registry as Prometheus text. This module loads
// nothing but `effect/Metric`: reporting costs a map update, and nothing here knows HTTP.
//
// Names follow Prometheus conventions: the unit in the name, `_total` on counters, and labels of
// low cardinality only (a tool, a runner, an outcome, a reject code: never a test id).
import * as Metric from "effect/Metric"

const counter = (name: string, description: string) => Metric.counter(name, { description, incremental: true })

export const buildInfo = Metric.gauge("grid_build_info", {
  description: "Always 1; the labels say the node's version, release channel and id"
})
export const testsRunning = Metric.gauge("grid_tests_running", { description: "Tests this node holds now (preparing, running or stopping)" })
export const testsStarted = counter("grid_tests_started_total", "Tests accepted by this node, by tool and runner")
export const testsEnded = counter("grid_tests_ended_total", "Tests that ended, by outcome (finished, failed, stopped)")
export const commandsRejected = counter("grid_commands_rejected_total", "Commands this node refused, by reject code")
export const testDuration = Metric.histogram("grid_test_duration_seconds", {
  description: "Time from a test's acceptance to its terminal event",
  boundaries: [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400]
})
export const windowsPublished = counter("grid_result_windows_published_total", "Result windows acknowledged by the transport")
export const windowsPending = Metric.gauge("grid_result_windows_pending", {
  description: "Result windows offered and not yet acknowledged (in memory or spilled)"
})
export const windowsSpilled = counter("grid_result_windows_spilled_total", "Result windows written to a spill file while NATS was away")
export const samplesIngested = counter("grid_samples_ingested_total", "Samples (requests) read from the tools' results")
export const parseErrors = counter("grid_result_parse_errors_total", "Lines of tools' result files that could not be read")
export const eventsPending = Metric.gauge("grid_events_pending", { description: "Protocol events queued and not yet stored by JetStream" })
export const eventsOldestAge = Metric.gauge("grid_events_oldest_age_seconds", {
  description: "Age of the oldest protocol event not yet stored by JetStream (0 when none waits)"
})
export const nodeReady = Metric.gauge("grid_node_ready", { description: "1 when /readyz would answer 200, else 0" })
export const natsConnected = Metric.gauge("grid_nats_connected", { description: "1 while the NATS connection is up, else 0" })
export const natsReconnects = counter("grid_nats_reconnects_total", "Times the NATS connection came back after losing its server")
export const dockerAvailable = Metric.gauge("grid_docker_available", { description: "1 while a docker engine answers, else 0" })
export const orphansRemoved = counter("grid_orphans_removed_total", "Leftovers of earlier lives removed by the orphan sweep, by kind")
export const flagsInvalid = counter("grid_flags_invalid_total", "Flag values in grid_flags ignored because they failed their Schema (the previous value stays)")
export const flagsRevision = Metric.gauge("grid_flags_revision", { description: "Highest grid_flags revision this node has applied" })
export const cpuSeconds = counter("process_cpu_seconds_total", "User and system CPU time of the node's process")
export const residentMemory = Metric.gauge("process_resident_memory_bytes", { description: "Resident set size of the node's process" })
export const startTime = Metric.gauge("process_start_time_seconds", { description: "Start time of the node's process since the epoch" })

/** Adds `n` to a counter, with labels. */
export const count = (metric: Metric.Counter<number>, n = 1, labels?: Record<string, string>) =>
  Metric.update(labels ? Metric.withAttributes(metric, labels) : metric, n)

/** The kind of an orphan sweep's removal line (`container …`, `process group …`, `workdir …`). */
export const orphanKind = (what: string): string =>
  what.startsWith("container") ? "container" : what.startsWith("process") ? "process" : what.startsWith("workdir") ? "workdir" : "other"
