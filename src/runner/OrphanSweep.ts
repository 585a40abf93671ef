// The orphan sweep: removes what an earlier life of this node left behind (a daemon killed
// with SIGKILL runs no finalizer). Containers labelled with this node's id whose test is not
// running here, process-runner tools still working in such a test's directory (see
// OrphanProcesses.ts), and work directories under the node's work-dir root
// (`<root>/<testId>`, see WorkDir.ts) whose test is not running, are removed; directories and
// processes only where the ownership markers (WorkMarker.ts) show this node made them. The daemon runs it at start-up and
// on a schedule; the caller passes the tests it owns right now, which must include tests
// still being prepared, or the sweep would remove a container mid-launch.
import { Context, type Duration, Effect, FileSystem, Layer, Path, Schedule, type Scope } from "effect"
import { count, orphanKind, orphansRemoved } from "../health/NodeMetrics.ts"
import { isId } from "../protocol/names.ts"
import { DockerCli } from "./DockerCli.ts"
import { findOrphanGroups, killGroup } from "./OrphanProcesses.ts"
import { nodeLabel, testLabel } from "./DockerBackend.ts"
import type { CleanupByTest } from "./TestJournal.ts"
import { ownedBy, readMarker } from "./WorkMarker.ts"

export interface SweepInput {
  readonly nodeId: string
  /** Test ids this node owns right now (running or being prepared). */
  readonly running: ReadonlySet<string>
  /** Read again right before each removal: a test that started while the sweep was listing
   * (a `docker ps` takes tens of ms) must not lose its fresh work directory or container. */
  readonly recheck?: Effect.Effect<ReadonlySet<string>> | undefined
  /** The node's work-dir root; leftovers below it are removed. Omit to sweep containers only. */
  readonly workRoot?: string | undefined
}

export interface SweepReport {
  /** What was removed: `container <id> (test <testId>)`, `process group <pgid> (test <testId>)`, `workdir <path>`. */
  readonly removed: ReadonlyArray<string>
  readonly errors: ReadonlyArray<string>
  /** The same, per test id (for the `node_restarted` events of the tests the journal holds). */
  readonly byTest: CleanupByTest
}

/** Collects a sweep's findings, in total and per test. */
const makeReport = () => {
  const removed: Array<string> = []
  const errors: Array<string> = []
  const byTest = new Map<string, { removed: Array<string>; errors: Array<string> }>()
  const part = (testId: string | undefined) => {
    if (testId === undefined || testId === "") return undefined
    const p = byTest.get(testId) ?? { removed: [], errors: [] }
    byTest.set(testId, p)
    return p
  }
  return {
    removed: (testId: string | undefined, what: string) => {
      removed.push(what)
      part(testId)?.removed.push(what)
    },
    error: (testId: string | undefined, what: string) => {
      errors.push(what)
      part(testId)?.errors.push(what)
    },
    report: (): SweepReport => ({ removed, errors, byTest })
  }
}
type Collector = ReturnType<typeof makeReport>

/** Whether `testId` became this node's own since the sweep read its running tests. */
const startedSince = (input: SweepInput, testId: string) =>
  input.recheck === undefined || testId === ""
    ? Effect.succeed(false)
    : Effect.map(input.recheck, (now) => now.has(testId))

export class OrphanSweep extends Context.Service<OrphanSweep, {
  /** Never fails: what could not be removed is listed in `errors` (docker being absent is not an error). */
  readonly sweep: (input: SweepInput) => Effect.Effect<SweepReport>
  /** Sweeps now and then every `every`, for as long as the scope lives; `input` is read
   * afresh each time (the running tests change). Removals are logged at info, errors at warning. */
  readonly periodic: (input: Effect.Effect<SweepInput>, every: Duration.Input) => Effect.Effect<void, never, Scope.Scope>
}>()("grid/runner/OrphanSweep") {
  static readonly layer = Layer.effect(
    OrphanSweep,
    Effect.gen(function*() {
      const cli = yield* DockerCli
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path

      const containers = (input: SweepInput, out: Collector) =>
        Effect.gen(function*() {
          const listed = yield* Effect.result(cli.exec([
            "ps", "-a", "--no-trunc",
            "--filter", `label=${nodeLabel}=${input.nodeId}`,
            "--format", `{{.ID}}\t{{.Label "${testLabel}"}}`
          ], { timeout: "30 seconds" }))
          if (listed._tag === "Failure") {
            if (listed.failure.code !== "docker_unavailable") out.error(undefined, listed.failure.message)
            return
          }
          const orphans = listed.success.stdout.split("\n")
            .map((line) => line.split("\t"))
            .filter(([id, test]) => id !== undefined && id !== "" && !input.running.has(test ?? ""))
          for (const [id, test] of orphans) {
            if (yield* startedSince(input, test ?? "")) continue
            const rm = yield* Effect.result(cli.exec(["rm", "-f", id!], { timeout: "60 seconds" }))
            if (rm._tag === "Success") out.removed(test, `container ${id} (test ${test || "?"})`)
            else if (!/No such container/i.test(rm.failure.message)) out.error(test, rm.failure.message)
          }
        })

      const workDirs = (input: SweepInput, root: string, nodeId: string, running: ReadonlySet<string>, out: Collector) =>
        Effect.gen(function*() {
          if (!(yield* fs.exists(root).pipe(Effect.orElseSucceed(() => false)))) return
          // Only a root and test directories this node marked as its own (WorkMarker.ts): a
          // misconfigured or nested root must not lose another node's folders or processes.
          const rootMarker = yield* readMarker(root)
          if (rootMarker === undefined || rootMarker.nodeId !== nodeId || rootMarker.testId !== undefined) return
          // Processes first: a tool still running would keep writing into its directory.
          for (const group of yield* Effect.sync(() => findOrphanGroups(root, running))) {
            if (yield* startedSince(input, group.testId)) continue
            if (!(yield* ownedBy(path.join(root, group.testId), nodeId, group.testId))) continue
            const failed = killGroup(group.pgid)
            if (failed === undefined) out.removed(group.testId, `process group ${group.pgid} (test ${group.testId})`)
            else out.error(group.testId, failed)
          }
          const entries = yield* fs.readDirectory(root).pipe(
            Effect.catch((e) => Effect.sync(() => out.error(undefined, `cannot list ${root}: ${e.message}`)).pipe(Effect.as([] as Array<string>)))
          )
          for (const name of entries) {
            // Only names a test id can have: a misconfigured root must not lose foreign files.
            if (!isId(name) || running.has(name) || (yield* startedSince(input, name))) continue
            const dir = path.join(root, name)
            if (!(yield* ownedBy(dir, nodeId, name))) continue
            const rm = yield* Effect.result(fs.remove(dir, { recursive: true, force: true }))
            if (rm._tag === "Success") out.removed(name, `workdir ${dir}`)
            else out.error(name, `workdir ${dir}: ${rm.failure.message}`)
          }
        })

      const sweep = (input: SweepInput) =>
        Effect.gen(function*() {
          const out = makeReport()
          yield* containers(input, out)
          if (input.workRoot !== undefined) yield* workDirs(input, input.workRoot, input.nodeId, input.running, out)
          const report = out.report()
          for (const what of report.removed) yield* count(orphansRemoved, 1, { kind: orphanKind(what) })
          return report
        }).pipe(Effect.provideService(FileSystem.FileSystem, fs), Effect.provideService(Path.Path, path))

      const logged = (report: SweepReport) =>
        Effect.all([
          report.removed.length > 0 ? Effect.logInfo(`orphan sweep removed: ${report.removed.join(", ")}`) : Effect.void,
          report.errors.length > 0 ? Effect.logWarning(`orphan sweep errors: ${report.errors.join("; ")}`) : Effect.void
        ], { discard: true })

      return OrphanSweep.of({
        sweep,
        // The first sweep comes after `every`: the caller swept at start-up, before any test.
        periodic: (input, every) =>
          Effect.flatMap(input, (i) => sweep({ ...i, recheck: i.recheck ?? Effect.map(input, (again) => again.running) })).pipe(
            Effect.flatMap(logged),
            Effect.repeat(Schedule.spaced(every)),
            Effect.delay(every),
            Effect.asVoid,
            Effect.forkScoped,
            Effect.asVoid
          )
      })
    })
  )

  /** No sweep: a node whose work root is its own fresh temp dir and that runs no containers
   * (`grid run`) has nothing an earlier life could have left. */
  static readonly none = Layer.succeed(
    OrphanSweep,
    OrphanSweep.of({
      sweep: () => Effect.succeed({ removed: [], errors: [], byTest: new Map() }),
      periodic: () => Effect.void
    })
  )
}
