// The in-order window publisher of one test: windows are published one at a time, in seq order,
// each retried (backoff through Clock) until the transport acknowledges it, so a NATS outage
// delays windows but never reorders or loses them. While NATS is away windows wait in memory
// up to `memoryWindows`; past that bound they are appended to a spill file (JSON lines) in the
// test's work directory and read back, in order, once the memory queue has drained. Nothing is
// ever dropped for NATS being away: if even the spill file cannot be written, windows stay in
// memory (and say so). A window over the transport's payload limit has its least busy labels
// folded (fitWindow.ts); one the transport refuses for good is dropped and counted, so it
// never wedges the windows behind it.
import { closeSync, constants, openSync, readSync, rmSync, writeSync } from "node:fs"
import { Duration, Effect, Latch, Schema } from "effect"
import * as Metric from "effect/Metric"
import { count, windowsPending, windowsPublished, windowsSpilled } from "../health/NodeMetrics.ts"
import { type ResultWindow, ResultWindow as ResultWindowSchema } from "../protocol/results.ts"
import { publishRetry } from "../protocol/delivery.ts"
import { fitWindow } from "./fitWindow.ts"
import type { ResultTransport } from "./ResultTransport.ts"

export interface PublisherOptions {
  readonly transport: ResultTransport["Service"]
  /** Path of the spill file (created only when needed, removed when emptied). */
  readonly spillFile: string
  /** Windows kept in memory before spilling (default 300: five minutes of 1 s windows). */
  readonly memoryWindows?: number | undefined
  /** First retry delay; doubles up to `maxRetryDelay` (defaults 100 ms and 2 s: src/protocol/delivery.ts). */
  readonly retryDelay?: Duration.Input | undefined
  readonly maxRetryDelay?: Duration.Input | undefined
}

export interface Publisher {
  /** Queues a window for publishing; never fails, never blocks on NATS. */
  readonly offer: (window: ResultWindow) => Effect.Effect<void>
  /** Waits until every offered window is acknowledged, at most `timeout`; returns how many are not. */
  readonly drain: (timeout: Duration.Input) => Effect.Effect<number>
  /** Offered and not yet acknowledged. */
  readonly pending: () => number
  readonly stats: () => { published: number; spilled: number; failures: number; dropped: number; folded: number }
}

const decodeWindow = Schema.decodeUnknownSync(Schema.fromJsonString(ResultWindowSchema))

/** Append-only JSON-lines spill file with a read cursor. */
class Spill {
  private fd: number | undefined = undefined
  private writeOffset = 0
  private readOffset = 0
  /** Byte length of each line not yet read back, oldest first. */
  private lengths: Array<number> = []
  total = 0
  readonly path: string
  constructor(path: string) {
    this.path = path
  }

  get count(): number {
    return this.lengths.length
  }

  /** false if the file cannot be written (the caller keeps the window in memory). */
  append(w: ResultWindow): boolean {
    try {
      // Never through a symlink: the spill file lies in the test's work directory, which the
      // tool (or its container) can write, and a planted link would aim the node's writes at a host file.
      this.fd ??= openSync(this.path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600)
      const line = Buffer.from(JSON.stringify(w) + "\n")
      writeSync(this.fd, line, 0, line.length, this.writeOffset)
      this.writeOffset += line.length
      this.lengths.push(line.length)
      this.total++
      return true
    } catch {
      return false
    }
  }

  /** Reads back up to `max` windows in the order they were written. */
  take(max: number): Array<ResultWindow> {
    const out: Array<ResultWindow> = []
    while (out.length < max && this.lengths.length > 0 && this.fd !== undefined) {
      const len = this.lengths[0]!
      const buf = Buffer.allocUnsafe(len)
      let got = 0
      while (got < len) {
        const n = readSync(this.fd, buf, got, len - got, this.readOffset + got)
        if (n <= 0) throw new Error(`spill file ${this.path} is shorter than what was written to it`)
        got += n
      }
      out.push(decodeWindow(buf.toString("utf8", 0, len - 1)))
      this.lengths.shift()
      this.readOffset += len
    }
    if (this.lengths.length === 0) this.clear()
    return out
  }

  clear(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd)
      rmSync(this.path, { force: true })
    }
    this.fd = undefined
    this.writeOffset = 0
    this.readOffset = 0
    this.lengths = []
  }
}

/** Starts the publishing fiber in the current Scope (it stops, unfinished, when the scope closes). */
export const makePublisher = Effect.fnUntraced(function*(opts: PublisherOptions) {
  const limit = Math.max(1, opts.memoryWindows ?? 300)
  const memory: Array<ResultWindow> = []
  const spill = new Spill(opts.spillFile)
  const work = Latch.makeUnsafe(false)
  const idle = Latch.makeUnsafe(true)
  let published = 0
  let failures = 0
  let dropped = 0
  let folded = 0

  const pending = () => memory.length + spill.count

  const offer = (w: ResultWindow) =>
    Effect.suspend(() => {
      // Once windows are in the spill file, later ones must follow them there to keep order.
      const spilled = (memory.length >= limit || spill.count > 0) && spill.append(w)
      if (!spilled) memory.push(w)
      idle.closeUnsafe()
      work.openUnsafe()
      return Effect.andThen(Metric.modify(windowsPending, 1), spilled ? count(windowsSpilled) : Effect.void)
    })

  const retry = publishRetry({ first: opts.retryDelay, max: opts.maxRetryDelay })
  const publishHead = Effect.gen(function*() {
    const head = memory[0]!
    const w = fitWindow(head, opts.transport.maxBytes())
    if (w !== head) folded++
    const outcome = w === undefined
      ? "permanent" as const
      : yield* opts.transport.publish(w).pipe(
        Effect.tapError(() => Effect.sync(() => failures++)),
        Effect.retry({ schedule: retry, while: (e) => e.permanent !== true }),
        Effect.as("ok" as const),
        Effect.catch(() => Effect.succeed("permanent" as const))
      )
    memory.shift()
    yield* Metric.modify(windowsPending, -1)
    if (outcome === "ok") {
      published++
      yield* count(windowsPublished)
    }
    else {
      dropped++
      yield* Effect.logError(`results: window ${head.seq} of test ${head.testId} cannot be published (over the payload limit or refused for good); dropped`)
    }
  })

  const loop = Effect.gen(function*() {
    for (;;) {
      if (memory.length === 0 && spill.count > 0) {
        for (const w of spill.take(limit)) memory.push(w)
      }
      if (memory.length === 0) {
        idle.openUnsafe()
        work.closeUnsafe()
        yield* work.await
        continue
      }
      yield* publishHead
    }
  })

  yield* Effect.forkScoped(loop)
  // What this test leaves unpublished is no longer pending anywhere.
  yield* Effect.addFinalizer(() => Effect.suspend(() => Metric.modify(windowsPending, -pending())).pipe(Effect.andThen(Effect.sync(() => spill.clear()))))

  const publisher: Publisher = {
    offer,
    pending,
    drain: (timeout) =>
      idle.await.pipe(
        Effect.timeoutOption(timeout),
        Effect.map(() => pending())
      ),
    stats: () => ({ published, spilled: spill.total, failures, dropped, folded })
  }
  return publisher
})
