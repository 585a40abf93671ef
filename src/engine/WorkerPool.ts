// The parent of a node's engine workers: starts N `grid engine --worker i/N` processes (one per
// core, each with its own event loop and connections), waits until every one is ready, says
// `go` to all at once, sums their live figures into one EngineStatus, hands their rows to the
// ingestion sink (WorkerRows.ts) when it aggregates, and waits for them to end. A worker that
// fails before the start fails the run with its own message and exit code (an invalid
// scenario: 2, a refused target: 3); one that dies during the run fails it too, after stopping
// the others, unless `onWorkerExit: continue`, which goes on at reduced load and says so.
// Interruption (Ctrl-C, a stop) writes `stop` to every worker and waits for their last rows;
// one that does not end within the grace is killed. Workers inherit the parent's working
// directory and process group, so the daemon's stop and orphan sweep reach them with it, and
// each ends by itself when its stdin closes (its parent is gone, even after a SIGKILL).
// Plain callbacks inside (process events), Effect at the edges.
import { type ChildProcess, spawn } from "node:child_process"
import { Duration, Effect, Schema } from "effect"
import type { SampleSink } from "../ingest/Sample.ts"
import type { EngineStatus } from "./LoadModels.ts"
import { RowMerger } from "./WorkerRows.ts"
import { readWorkerLine, type WorkerMessage } from "./WorkerWire.ts"

export class WorkerError extends Schema.TaggedError<WorkerError>()("WorkerError", {
  /** The exit code `grid engine` ends with: the failed worker's own when it refused the run. */
  exitCode: Schema.Number,
  message: Schema.String
}) {}

export interface PoolOptions {
  readonly count: number
  /** The full argv of worker `index` (executable first). */
  readonly argv: (index: number) => ReadonlyArray<string>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd?: string | undefined
  /** Summed over the workers while they run. */
  readonly status: EngineStatus
  /** Samples the workers reported so far (summed like `status`). */
  readonly totals?: { samples: number } | undefined
  /** When the workers send rows (`--results -`): where their merged windows go. */
  readonly sink?: SampleSink | undefined
  /** Whatever a worker prints besides its messages (stderr lines, mostly). */
  readonly log: (line: string) => void
  /** Where "continuing at reduced load" is said (default: `log`): a user must see it. */
  readonly warn?: ((line: string) => void) | undefined
  readonly onWorkerExit: "fail" | "continue"
  /** Pin worker i to core i mod cores (through `taskset`). */
  readonly cpuAffinity?: { readonly cores: number } | undefined
  /** How long stopped workers may take to end before they are killed. */
  readonly stopGraceMs?: number | undefined
}

interface Worker {
  readonly index: number
  readonly child: ChildProcess
  ready: boolean
  /** Exit code (or 128 + signal), once it exited. */
  exit: number | undefined
  signal: string | null
  lastError: string | undefined
  status: { users: number; dropped: number; arrivals: number; samples: number; cpuMs: number }
  ended: boolean
}

const lines = (onLine: (line: string) => void) => {
  let rest = ""
  return (chunk: string) => {
    rest += chunk
    let nl: number
    while ((nl = rest.indexOf("\n")) >= 0) {
      onLine(rest.slice(0, nl))
      rest = rest.slice(nl + 1)
    }
  }
}

/** The running workers, their figures, and a wake-up for whoever waits on them. */
class Pool {
  readonly workers: Array<Worker> = []
  private readonly waiters = new Set<() => void>()
  private readonly merger: RowMerger | undefined
  spawnError: string | undefined = undefined
  private readonly options: PoolOptions

  constructor(options: PoolOptions) {
    this.options = options
    this.merger = options.sink === undefined ? undefined : new RowMerger(options.sink)
    for (let i = 0; i < options.count; i++) this.start(i)
  }

  private start(index: number): void {
    const o = this.options
    const argv = o.cpuAffinity === undefined ? o.argv(index) : ["taskset", "-c", String(index % o.cpuAffinity.cores), ...o.argv(index)]
    const child = spawn(argv[0]!, argv.slice(1), { cwd: o.cwd, env: o.env, stdio: ["pipe", "pipe", "pipe"] })
    const w: Worker = {
      index,
      child,
      ready: false,
      exit: undefined,
      signal: null,
      lastError: undefined,
      status: { users: 0, dropped: 0, arrivals: 0, samples: 0, cpuMs: 0 },
      ended: false
    }
    this.workers.push(w)
    child.stdout!.setEncoding("utf8")
    child.stderr!.setEncoding("utf8")
    child.stdout!.on("data", lines((line) => this.onMessage(w, line)))
    child.stderr!.on("data", lines((line) => {
      if (line.trim() !== "") w.lastError = line
      o.log(`worker ${index}: ${line}`)
    }))
    // A worker gone before reading its stdin makes writes fail with EPIPE: its exit says why.
    child.stdin!.on("error", () => {})
    child.on("error", (e) => {
      this.spawnError ??= `cannot start engine worker ${index} (${argv[0]}): ${e.message}`
      w.exit ??= 127
      this.wake()
    })
    child.on("close", (code, signal) => {
      w.exit = code ?? 128
      w.signal = signal
      w.status.users = 0
      this.sum()
      this.wake()
    })
  }

  private onMessage(w: Worker, line: string): void {
    const m: WorkerMessage | undefined = readWorkerLine(line)
    if (m === undefined) {
      if (line.trim() !== "") this.options.log(`worker ${w.index}: ${line}`)
      return
    }
    switch (m.t) {
      case "ready":
        w.ready = true
        this.wake()
        return
      case "status":
        w.status = { users: m.users, dropped: m.dropped, arrivals: m.arrivals, samples: m.samples, cpuMs: m.cpuMs }
        this.sum()
        return
      case "rows":
        for (const row of m.rows) this.merger?.add(row)
        return
      case "end":
        w.ended = true
        w.status.samples = m.samples
        return
    }
  }

  private sum(): void {
    const s = this.options.status
    s.users = 0
    s.dropped = 0
    s.arrivals = 0
    s.workerCpuMs = 0
    for (const w of this.workers) {
      s.workerCpuMs += w.status.cpuMs
      s.users += w.status.users
      s.dropped += w.status.dropped
      s.arrivals += w.status.arrivals
    }
    if (this.options.totals !== undefined) this.options.totals.samples = this.samples
  }

  get samples(): number {
    return this.workers.reduce((n, w) => n + w.status.samples, 0)
  }

  private wake(): void {
    for (const f of [...this.waiters]) f()
  }

  /** Resumes once `done` returns something, checked at every worker event. */
  until<A>(done: () => A | undefined): Effect.Effect<A> {
    return Effect.callback<A>((resume) => {
      const check = () => {
        const a = done()
        if (a !== undefined) {
          this.waiters.delete(check)
          resume(Effect.succeed(a))
        }
      }
      this.waiters.add(check)
      check()
      return Effect.sync(() => this.waiters.delete(check))
    })
  }

  tell(word: "go" | "stop"): void {
    for (const w of this.workers) {
      if (w.exit === undefined && w.child.stdin?.writable === true) w.child.stdin.write(`${word}\n`)
    }
  }

  kill(): void {
    for (const w of this.workers) if (w.exit === undefined) w.child.kill("SIGKILL")
  }

  /** Why worker `w` failed, in its own words when it said any. */
  describe(w: Worker): string {
    const how = w.signal !== null ? `was killed by ${w.signal}` : `exited with code ${w.exit}`
    return `engine worker ${w.index} of ${this.workers.length} ${how}${w.lastError !== undefined ? `: ${w.lastError.replace(/^grid engine: /, "")}` : ""}`
  }
}

/** Stops every worker still running and waits for it (killed after the grace). */
const stopAll = (pool: Pool, graceMs: number) =>
  Effect.suspend(() => {
    pool.tell("stop")
    return pool.until(() => (pool.workers.every((w) => w.exit !== undefined) ? true : undefined)).pipe(
      Effect.timeoutOption(Duration.millis(graceMs)),
      Effect.flatMap((done) => (done._tag === "Some" ? Effect.void : Effect.sync(() => pool.kill())))
    )
  })

export interface PoolOutcome {
  /** Samples the workers reported (written to the JTL, or sent as rows). */
  readonly samples: number
  /** Workers that died during the run when the run went on without them. */
  readonly lost: number
}

/** Runs the workers to their end. */
export const runWorkers = Effect.fn("engine.workers")(function*(options: PoolOptions) {
  const grace = options.stopGraceMs ?? 10_000
  return yield* Effect.acquireUseRelease(
    Effect.sync(() => new Pool(options)),
    (pool) =>
      Effect.gen(function*() {
        // Every worker ready, or the first to end before it was (it refused the run).
        const early = yield* pool.until(() =>
          pool.spawnError !== undefined ? "spawn" : pool.workers.find((w) => w.exit !== undefined && !w.ready) ?? (pool.workers.every((w) => w.ready) ? "ready" : undefined)
        )
        if (early === "spawn") return yield* new WorkerError({ exitCode: 1, message: pool.spawnError! })
        if (early !== "ready") {
          // Refused before any load (unreachable, not allowed): its own words, as one engine says them.
          const own = early.lastError?.replace(/^grid engine: /, "")
          return yield* new WorkerError({ exitCode: early.exit === 0 ? 1 : early.exit!, message: own ?? pool.describe(early) })
        }
        pool.tell("go")
        const lost = new Set<number>()
        while (true) {
          const failed = yield* pool.until(() =>
            pool.workers.find((w) => w.exit !== undefined && (w.exit !== 0 || !w.ended) && !lost.has(w.index)) ??
              (pool.workers.every((w) => w.exit !== undefined) ? "all" : undefined)
          )
          if (failed === "all") break
          if (options.onWorkerExit === "fail") {
            // A refusal mid-run (3: a target's address left the allow-list) keeps its code and words.
            const refused = failed.exit === 2 || failed.exit === 3
            const own = failed.lastError?.replace(/^grid engine: /, "")
            return yield* new WorkerError({
              exitCode: refused ? failed.exit! : 1,
              message: refused && own !== undefined ? own : pool.describe(failed)
            })
          }
          lost.add(failed.index)
          const left = pool.workers.length - lost.size
          const say = options.warn ?? options.log
          say(`${pool.describe(failed)}; continuing at reduced load (${left} of ${pool.workers.length} workers)`)
          if (left === 0) return yield* new WorkerError({ exitCode: 1, message: "every engine worker died" })
        }
        return { samples: pool.samples, lost: lost.size } satisfies PoolOutcome
      }),
    (pool) => stopAll(pool, grace)
  )
})
