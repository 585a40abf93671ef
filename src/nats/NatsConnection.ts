// The node's (or controller's) NATS connection as a scoped resource: connected with the
// configured authentication and TLS, drained on release. Reconnects forever once up; a
// failed first connection or a refused authentication is a fatal, typed start-up error.
import { connect, credsAuthenticator, type NatsConnection as Conn, nkeyAuthenticator } from "@nats-io/transport-node"
import { jetstream, type JetStreamClient, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import * as fs from "node:fs"
import type { NatsAuth } from "./NatsAuth.ts"
import { parseServers, redactUrl } from "./natsUrl.ts"

export class NatsError extends Schema.TaggedError<NatsError>()("NatsError", {
  message: Schema.String
}) {}

export interface NatsSettings {
  readonly url: string
  readonly auth: NatsAuth
  /** Client name shown by the server (`grid-node-<id>`). */
  readonly name: string
  /** Where replies to this client go (default `_INBOX`). A node uses its own, `_GRID_INBOX.<id>`,
   * so that its credentials may subscribe to its replies only (docs/security.md). */
  readonly inboxPrefix?: string | undefined
}

export class NatsConnection extends Context.Service<NatsConnection, {
  readonly nc: Conn
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
}>()("grid/nats/NatsConnection") {
  static readonly layer = (settings: NatsSettings) => Layer.effect(NatsConnection, acquire(settings))
}

const readFile = (what: string, file: string) =>
  Effect.try({
    try: () => fs.readFileSync(file),
    catch: (e) => new NatsError({ message: `cannot read ${what} ${file}: ${(e as Error).message}` })
  })

const acquire = (settings: NatsSettings) =>
  Effect.gen(function*() {
    const { auth } = settings
    // Credentials in the URL count when no flag gives any (flags win); the URL is never printed whole.
    const fromUrl = parseServers(settings.url)
    const shown = redactUrl(settings.url)
    const flagged = auth.user !== undefined || auth.token !== undefined || auth.credsFile !== undefined || auth.nkeySeedFile !== undefined
    const user = auth.user ?? (flagged ? undefined : fromUrl.user)
    const pass = auth.password !== undefined ? Redacted.value(auth.password) : flagged ? undefined : fromUrl.pass
    const token = auth.token !== undefined ? Redacted.value(auth.token) : flagged ? undefined : fromUrl.token
    const authenticator = auth.credsFile !== undefined
      ? credsAuthenticator(yield* readFile("credentials file", auth.credsFile))
      : auth.nkeySeedFile !== undefined
      ? nkeyAuthenticator(new TextEncoder().encode((yield* readFile("nkey seed file", auth.nkeySeedFile)).toString("utf8").trim()))
      : undefined
    const tls = auth.tlsCa !== undefined || auth.tlsCert !== undefined
      ? {
        ...(auth.tlsCa !== undefined ? { caFile: auth.tlsCa } : {}),
        ...(auth.tlsCert !== undefined ? { certFile: auth.tlsCert } : {}),
        ...(auth.tlsKey !== undefined ? { keyFile: auth.tlsKey } : {})
      }
      : undefined
    const nc = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          connect({
            servers: [...fromUrl.servers],
            name: settings.name,
            ...(settings.inboxPrefix !== undefined ? { inboxPrefix: settings.inboxPrefix } : {}),
            maxReconnectAttempts: -1,
            reconnectTimeWait: 500,
            pingInterval: 10_000,
            ...(authenticator ? { authenticator } : {}),
            ...(user !== undefined ? { user } : {}),
            ...(pass !== undefined ? { pass } : {}),
            ...(token !== undefined ? { token } : {}),
            ...(tls ? { tls } : {})
          }),
        catch: (e) => new NatsError({ message: `cannot connect to NATS at ${shown}: ${describe(e)}` })
      }),
      (nc) => Effect.promise(() => nc.drain().catch(() => nc.close())).pipe(Effect.timeout("10 seconds"), Effect.ignore)
    )
    const jsm = yield* Effect.tryPromise({
      try: () => jetstreamManager(nc),
      catch: (e) => new NatsError({ message: `JetStream is not available at ${shown}: ${describe(e)}` })
    })
    return NatsConnection.of({ nc, js: jetstream(nc), jsm })
  })

/** Error text without secrets: nats.js errors name the server, never the credentials. */
export const describe = (e: unknown): string => {
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: unknown }).cause
    return cause instanceof Error && cause.message !== e.message ? `${e.message} (${cause.message})` : e.message
  }
  return String(e)
}

/** Room kept under the server's max_payload for a message's headers (Nats-Msg-Id). */
const HEADER_ROOM = 512

/** The largest payload the server connected now takes with our headers (it can change with a
 * reconnect to another server); 1 MB, NATS's default, until the server has said. */
export const maxPublishBytes = (nc: Conn): number => Math.max(0, (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM)

