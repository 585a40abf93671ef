// Where a request goes, as the engine pools connections: scheme, host and port. Its own module
// because the allow-list (loaded by every daemon) needs it without the request plan, which
// pulls in the flows machinery (tough-cookie among it) that only a running engine uses.

export interface Origin {
  /** "http://host:port", the key connections are pooled by. */
  readonly key: string
  readonly host: string
  readonly port: number
  readonly tls: boolean
}

export const originOf = (url: URL): Origin => {
  const tls = url.protocol === "https:"
  const port = url.port !== "" ? Number(url.port) : tls ? 443 : 80
  return { key: `${url.protocol}//${url.hostname}:${port}`, host: url.hostname.replace(/^\[|\]$/g, ""), port, tls }
}
