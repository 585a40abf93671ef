// Whether JetStream can take the grid's writes right now, in words a user can act on. On a
// cluster that lost a majority of its servers nothing fails outright: publishes and stream
// requests just time out, and a launch would wait on nodes that cannot be heard. This probe
// tells the cases apart: no meta leader (the API answers "temporarily unavailable"), a stream
// with no leader (its info times out or names none), or no server reachable at all.
import type { JetStreamManager } from "@nats-io/jetstream"
import type { NatsConnection as Conn } from "@nats-io/transport-node"
import { Effect } from "effect"
import { describe } from "./NatsConnection.ts"

/** How long one probe request may take; a leader answers in milliseconds. */
const PROBE_TIMEOUT = "3 seconds"

type Answer<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: string }

const ask = <A>(request: () => Promise<A>): Effect.Effect<Answer<A>> =>
  Effect.tryPromise({ try: request, catch: describe }).pipe(
    Effect.timeoutOrElse({ duration: PROBE_TIMEOUT, orElse: () => Effect.fail("timeout") }),
    Effect.map((value): Answer<A> => ({ ok: true, value })),
    Effect.catch((error) => Effect.succeed<Answer<A>>({ ok: false, error }))
  )

const timedOut = (error: string) => /timeout|timed out/i.test(error)

/** Undefined when JetStream answers for every stream; else why it cannot. */
export const jetStreamProblem = (nc: Conn, jsm: JetStreamManager, streams: ReadonlyArray<string>): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    if (nc.isClosed()) return "the NATS connection is closed"
    const account = yield* ask(() => jsm.getAccountInfo())
    if (!account.ok) {
      if (/temporarily unavailable/i.test(account.error)) {
        return "JetStream has no meta leader: a majority of the cluster's servers is unreachable (quorum lost)"
      }
      return timedOut(account.error)
        ? `no NATS server answers JetStream requests (${account.error})`
        : `JetStream is unavailable: ${account.error}`
    }
    for (const name of streams) {
      const info = yield* ask(() => jsm.streams.info(name))
      if (!info.ok) {
        return timedOut(info.error)
          ? `stream ${name} has no leader: a majority of its replicas is unreachable (quorum lost)`
          : `stream ${name} is unavailable: ${info.error}`
      }
      const cluster = info.value.cluster
      if (cluster !== undefined && (cluster.leader === undefined || cluster.leader === "")) {
        return `stream ${name} has no leader: a majority of its replicas is unreachable (quorum lost)`
      }
    }
    return undefined
  })
