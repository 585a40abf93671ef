// NATS server URLs as users write them: a comma-separated list, each perhaps carrying
// credentials (`nats://user:pass@host:4222`, `nats://token@host`). The credentials are taken
// out for the client's own options (nats.js does not read them from the URL) and never
// printed: every URL the node shows goes through `redactUrl`.

export interface ParsedServers {
  /** The servers without credentials, for `connect({ servers })`. */
  readonly servers: ReadonlyArray<string>
  /** Credentials found in a URL (the first one that has any). */
  readonly user?: string | undefined
  readonly pass?: string | undefined
  readonly token?: string | undefined
}

const withScheme = (s: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `nats://${s}`)

/** Splits, trims and takes the credentials out of a `--nats-url` value. */
export const parseServers = (urls: string): ParsedServers => {
  let user: string | undefined
  let pass: string | undefined
  let token: string | undefined
  const servers: Array<string> = []
  for (const raw of urls.split(",").map((s) => s.trim()).filter((s) => s.length > 0)) {
    let url: URL
    try {
      url = new URL(withScheme(raw))
    } catch {
      servers.push(raw)
      continue
    }
    if ((url.username !== "" || url.password !== "") && user === undefined && token === undefined) {
      if (url.password !== "") {
        user = decodeURIComponent(url.username)
        pass = decodeURIComponent(url.password)
      } else token = decodeURIComponent(url.username)
    }
    url.username = ""
    url.password = ""
    servers.push(url.toString().replace(/\/$/, ""))
  }
  return { servers, user, pass, token }
}

/** The URL list with any credentials replaced by `***`, for logs and error messages. */
export const redactUrl = (urls: string): string =>
  urls.replace(/(\/\/)([^/@\s,]+)@/g, (_m, slashes: string, cred: string) =>
    `${slashes}${cred.includes(":") ? `${cred.slice(0, cred.indexOf(":"))}:***` : "***"}@`)
