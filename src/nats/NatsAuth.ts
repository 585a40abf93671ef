// How the node or the controller authenticates to NATS: one of a credentials file, an nkey
// seed, user and password, or a token, plus optional TLS files. Secrets stay Redacted until the
// moment they are handed to the client (src/nats/NatsConnection.ts).
import type { Redacted } from "effect"

export interface NatsAuth {
  readonly credsFile?: string | undefined
  readonly nkeySeedFile?: string | undefined
  readonly user?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly token?: Redacted.Redacted<string> | undefined
  readonly tlsCa?: string | undefined
  readonly tlsCert?: string | undefined
  readonly tlsKey?: string | undefined
}
