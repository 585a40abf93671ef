// Flags shared by every command that talks to NATS (daemon, controller commands): each has
// an environment variable fallback (`--nats-url` / GRID_NATS_URL ...). Secrets are Redacted.
import { Config, Duration, Option } from "effect"
import { Flag } from "effect/cli"
import type { NatsAuth } from "../nats/NatsAuth.ts"

const env = (name: string) => `GRID_${name.toUpperCase().replace(/-/g, "_")}`

export const stringFlag = (name: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(`${description} (env ${env(name)})`),
    Flag.withFallbackConfig(Config.String(env(name))),
    Flag.optional
  )

export const secretFlag = (name: string, description: string) =>
  Flag.Redacted(name).pipe(
    Flag.withDescription(`${description} (env ${env(name)})`),
    Flag.withFallbackConfig(Config.Redacted(env(name))),
    Flag.optional
  )

export const natsFlags = {
  // Several servers (a cluster) as one comma-separated value or the flag repeated: one list.
  natsUrl: Flag.String("nats-url").pipe(
    Flag.withDescription("NATS server URL(s), comma-separated or repeated, e.g. the members of a cluster (env GRID_NATS_URL, default nats://127.0.0.1:4222)"),
    Flag.atLeast(1),
    Flag.map((urls) => urls.join(",")),
    Flag.withFallbackConfig(Config.String("GRID_NATS_URL")),
    Flag.withDefault("nats://127.0.0.1:4222")
  ),
  streamReplicas: Flag.Int("stream-replicas").pipe(
    Flag.withDescription("Replicas of the JetStream streams and buckets this command creates, 1-5 (a cluster: 3); existing ones with fewer are reported, not changed (env GRID_STREAM_REPLICAS, default 1)"),
    Flag.withFallbackConfig(Config.Int("GRID_STREAM_REPLICAS")),
    // JetStream keeps at most five replicas.
    Flag.mapTryCatch(
      (n) => {
        if (n < 1 || n > 5) throw new Error(`${n}: must be 1 to 5 (a three-server cluster: 3)`)
        return n
      },
      (e) => (e as Error).message
    ),
    Flag.optional
  ),
  subjectPrefix: Flag.String("subject-prefix").pipe(
    Flag.withDescription("Subject prefix of the grid's messages (env GRID_SUBJECT_PREFIX, default grid)"),
    Flag.withFallbackConfig(Config.String("GRID_SUBJECT_PREFIX")),
    Flag.withDefault("grid")
  ),
  natsCreds: stringFlag("nats-creds", "NATS credentials file"),
  natsNkey: stringFlag("nats-nkey", "NATS nkey seed file"),
  natsUser: stringFlag("nats-user", "NATS user"),
  natsPassword: secretFlag("nats-password", "NATS password"),
  natsToken: secretFlag("nats-token", "NATS token"),
  natsTlsCa: stringFlag("nats-tls-ca", "CA certificate file for NATS TLS"),
  natsTlsCert: stringFlag("nats-tls-cert", "client certificate file for NATS TLS"),
  natsTlsKey: stringFlag("nats-tls-key", "client key file for NATS TLS")
}

type NatsFlagValues = {
  readonly natsCreds: Option.Option<string>
  readonly natsNkey: Option.Option<string>
  readonly natsUser: Option.Option<string>
  readonly natsPassword: Option.Option<import("effect").Redacted.Redacted<string>>
  readonly natsToken: Option.Option<import("effect").Redacted.Redacted<string>>
  readonly natsTlsCa: Option.Option<string>
  readonly natsTlsCert: Option.Option<string>
  readonly natsTlsKey: Option.Option<string>
}

export const natsAuthOf = (f: NatsFlagValues): NatsAuth => ({
  credsFile: Option.getOrUndefined(f.natsCreds),
  nkeySeedFile: Option.getOrUndefined(f.natsNkey),
  user: Option.getOrUndefined(f.natsUser),
  password: Option.getOrUndefined(f.natsPassword),
  token: Option.getOrUndefined(f.natsToken),
  tlsCa: Option.getOrUndefined(f.natsTlsCa),
  tlsCert: Option.getOrUndefined(f.natsTlsCert),
  tlsKey: Option.getOrUndefined(f.natsTlsKey)
})

/** The one duration syntax of every flag, as help and errors show it. */
export const DURATION_SYNTAX = "500ms, 30s, 2m or 1h; a bare number is seconds"

/** A flag taking a duration (`durationSyntax`), checked when the command line is parsed. */
export const durationFlag = (name: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withMetavar("duration"),
    Flag.withDescription(description),
    Flag.mapTryCatch(
      (text) => {
        const d = parseDuration(text)
        if (d === undefined) throw new Error(`cannot read ${JSON.stringify(text)} as a duration (${DURATION_SYNTAX})`)
        return d
      },
      (e) => (e as Error).message
    )
  )

/** "5s", "500ms", "2m", "1h", "10" (seconds) or Effect's "5 seconds". */
/** `host:port` or `[v6]:port`; null when it is neither. */
export const parseHostPort = (text: string): { host: string; port: number } | null => {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim())
  if (m === null) return null
  const port = Number(m[3])
  return port <= 65535 ? { host: m[1] ?? m[2]!, port } : null
}

export const parseDuration = (text: string): Duration.Duration | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (m) {
    const n = Number(m[1])
    switch (m[2]) {
      case "ms":
        return Duration.millis(n)
      case "m":
        return Duration.minutes(n)
      case "h":
        return Duration.hours(n)
      default:
        return Duration.seconds(n)
    }
  }
  return Option.getOrUndefined(Duration.fromInput(text as Duration.Input))
}
