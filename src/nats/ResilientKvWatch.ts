// A KV watch that survives the loss of a NATS server. nats.js's `kv.watch()` rides an ordered
// push consumer that can stall for good when the server it was on dies with the bucket's
// stream leader (seen on a three-server cluster: no entry, no error, no end, for minutes), and
// a controller following heartbeats through it would declare live nodes lost. This watch
// reopens itself, from the revision after the last one it delivered, after every reconnect and
// whenever it has delivered nothing for `stallMs` (a healthy grid writes heartbeats several
// times per TTL, so silence that long means a stall, or an empty grid where reopening is cheap).
import type { KV, KvWatchEntry } from "@nats-io/kv"
import type { NatsConnection as Conn } from "@nats-io/transport-node"
import { Effect, Queue, type Scope, Stream } from "effect"
import { describe } from "./NatsConnection.ts"
import { reopening } from "./Reopening.ts"

export interface ResilientWatchOptions {
  /** Reopen after this long without an entry. */
  readonly stallMs: number
}

/** Current values first (as `kv.watch()` gives them), then every change; never ends by itself. */
export const resilientKvWatch = (nc: Conn, kv: KV, options: ResilientWatchOptions): Effect.Effect<Stream.Stream<KvWatchEntry>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const out = yield* Queue.unbounded<KvWatchEntry>()
    let lastRevision = 0
    yield* reopening(nc, options.stallMs, (alive) =>
      Effect.gen(function*() {
        // Opened interruptibly and bounded, not in an (uninterruptible) acquire: an open that
        // never answers while NATS is away must not hold the scope open.
        const it = yield* Effect.tryPromise({
          try: () => kv.watch(lastRevision > 0 ? { resumeFromRevision: lastRevision + 1 } : {}),
          catch: describe
        }).pipe(Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.fail("timeout") }))
        yield* Effect.addFinalizer(() => Effect.sync(() => (it as unknown as { stop: () => void }).stop()))
        return Stream.fromAsyncIterable(it, describe).pipe(
          Stream.runForEach((e) => {
            if (e.revision <= lastRevision) return Effect.void
            lastRevision = e.revision
            return Effect.andThen(alive, Queue.offer(out, e))
          })
        )
      }))
    return Stream.fromQueue(out)
  })
