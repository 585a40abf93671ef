// Following a subject of a stream, from its first message, through the loss of a NATS server.
// nats.js's ordered consumer (`js.consumers.get` + `consume`) can stall for good when its
// server dies with the stream's leader: no message, no error, no end (seen on a three-server
// cluster: a launch merged 16 of a node's 37 windows and called the run ok). This follower
// reopens the consumer from the stream sequence after the last one it delivered, after every
// reconnect and whenever the server said nothing for `stallMs`; a message is never delivered
// twice. The server's idle heartbeats count as something: a test's event subject is quiet for
// the whole run, and reopening it every `stallMs` delayed its terminal event past two of the
// node's heartbeats, long enough for a launch to call a node that had finished "lost".
import { DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream"
import type { NatsConnection as Conn } from "@nats-io/transport-node"
import { Effect, Queue, type Scope, Stream } from "effect"
import { describe } from "./NatsConnection.ts"
import { reopening } from "./Reopening.ts"

export interface FollowOptions {
  /** Reopen after this long without a message or an idle heartbeat from the server. */
  readonly stallMs: number
  /** Told each time the consumer is (re)opened: a count of reopens for tests and diagnosis. */
  readonly onOpen?: () => void
}

/** Every message of `subject` in `stream`, stored ones first, then live; never ends by itself. */
export const resilientFollow = (
  nc: Conn,
  js: JetStreamClient,
  stream: string,
  subject: string,
  options: FollowOptions
): Effect.Effect<Stream.Stream<JsMsg>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const out = yield* Queue.unbounded<JsMsg>()
    let lastSeq = 0
    yield* reopening(nc, options.stallMs, (alive) =>
      Effect.gen(function*() {
        // Opened interruptibly and bounded (an acquireRelease would open uninterruptibly, and an
        // open that never answers while NATS is away would hold the launch's scope open for good);
        // closed without waiting for the server, which may be gone.
        const messages = yield* Effect.tryPromise({
          try: () =>
            js.consumers.get(stream, lastSeq > 0
              ? { filter_subjects: subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSeq + 1 }
              : { filter_subjects: subject, deliver_policy: DeliverPolicy.All })
              // Short pulls: a dead pull is noticed in seconds, not the default 30 s.
              // Idle heartbeats several times per `stallMs`: the proof a quiet consumer is alive.
              .then((c) => c.consume({ max_messages: 512, expires: 5_000, idle_heartbeat: Math.max(500, Math.floor(options.stallMs / 3)) })),
          catch: describe
        }).pipe(Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.fail("timeout") }))
        yield* Effect.addFinalizer(() => Effect.sync(() => void messages.close().catch(() => undefined)))
        options.onOpen?.()
        yield* Stream.fromAsyncIterable(messages.status(), () => undefined).pipe(
          Stream.runForEach((n) => (n.type === "heartbeat" ? alive : Effect.void)),
          Effect.ignore,
          Effect.forkScoped
        )
        return Stream.fromAsyncIterable(messages, describe).pipe(
          Stream.runForEach((m) =>
            Effect.andThen(alive, () => {
              if (m.seq <= lastSeq) return Effect.void
              lastSeq = m.seq
              return Queue.offer(out, m)
            }))
        )
      }))
    return Stream.fromQueue(out)
  })
