// The node's target allow-list (`grid daemon --allow-target`, `grid engine --allow-target`):
// entries `host`, `host:port`, `[v6]:port`, an IP, a CIDR (`10.0.0.0/8`) or `*.example.com`
// (any subdomain, not the apex). A target is allowed when its host and port match an entry by
// name, or when every address its name resolves to lies in an IP/CIDR entry. The same rules run
// twice: before a test is accepted (every host the scenario can reach) and at every connect, as
// the resolver's answer may change between the two (`guardedLookup`).
import { lookup as dnsLookup, type LookupAddress } from "node:dns"
import { BlockList, isIP, type LookupFunction } from "node:net"
import { Effect } from "effect"
import { originOf } from "./Origin.ts"
import type { Scenario } from "./Scenario.ts"

interface NameEntry {
  readonly kind: "name"
  /** Lower-case host, or the suffix (".example.com") of a wildcard. */
  readonly host: string
  readonly wildcard: boolean
  readonly port: number | undefined
}
interface AddressEntry {
  readonly kind: "address"
  readonly list: BlockList
  readonly port: number | undefined
}
type Entry = NameEntry | AddressEntry

export interface AllowList {
  /** The entries as given, for messages. */
  readonly text: ReadonlyArray<string>
  readonly entries: ReadonlyArray<Entry>
}

const family = (ip: string): "ipv4" | "ipv6" => (isIP(ip) === 6 ? "ipv6" : "ipv4")
const bare = (host: string) => host.replace(/^\[|\]$/g, "").toLowerCase()

/** One entry, or the reason it cannot be read. */
const parseEntry = (raw: string): Entry | string => {
  const text = raw.trim()
  const cidr = /^([0-9A-Fa-f:.]+)\/(\d{1,3})$/.exec(text)
  if (cidr !== null) {
    const ip = cidr[1]!
    const bits = Number(cidr[2])
    if (isIP(ip) === 0 || bits > (isIP(ip) === 6 ? 128 : 32)) return `${JSON.stringify(raw)} is not a valid CIDR`
    const list = new BlockList()
    list.addSubnet(ip, bits, family(ip))
    return { kind: "address", list, port: undefined }
  }
  // host, host:port, [v6], [v6]:port, or a bare IPv6 address.
  const m = isIP(text) === 6 ? [text, text, undefined, undefined] : /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s/\[\]]+))(?::(\d{1,5}))?$/.exec(text)
  if (m === null) return `${JSON.stringify(raw)} is not host, host:port, an IP, a CIDR or *.domain`
  const host = bare(m[1] ?? m[2]!)
  const port = m[3] === undefined ? undefined : Number(m[3])
  if (port !== undefined && (port < 1 || port > 65535)) return `${JSON.stringify(raw)}: port out of range`
  if (isIP(host) !== 0) {
    const list = new BlockList()
    list.addAddress(host, family(host))
    return { kind: "address", list, port }
  }
  if (host.startsWith("*.")) {
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(host.slice(2))) return `${JSON.stringify(raw)} is not a valid wildcard`
    return { kind: "name", host: host.slice(1), wildcard: true, port }
  }
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/.test(host)) return `${JSON.stringify(raw)} is not a valid host name`
  return { kind: "name", host: host.replace(/\.$/, ""), wildcard: false, port }
}

/** Reads the entries; every unreadable one is reported. */
export const parseAllowList = (texts: ReadonlyArray<string>): AllowList | { readonly problems: ReadonlyArray<string> } => {
  const entries: Array<Entry> = []
  const problems: Array<string> = []
  for (const t of texts) {
    const e = parseEntry(t)
    if (typeof e === "string") problems.push(e)
    else entries.push(e)
  }
  return problems.length > 0 ? { problems } : { text: texts, entries }
}

const portOk = (entry: Entry, port: number | undefined) => entry.port === undefined || port === undefined || entry.port === port

/** Allowed by name alone (no resolution): a name entry, or an IP literal inside an address entry. */
export const allowedByName = (list: AllowList, host: string, port: number | undefined): boolean => {
  const h = bare(host).replace(/\.$/, "")
  return list.entries.some((e) =>
    portOk(e, port) && (e.kind === "name"
      ? (e.wildcard ? h.endsWith(e.host) && h.length > e.host.length : h === e.host)
      : isIP(h) !== 0 && e.list.check(h, family(h)))
  )
}

/** Whether a resolved address lies in an IP/CIDR entry. */
export const allowedAddress = (list: AllowList, address: string, port: number | undefined): boolean =>
  list.entries.some((e) => e.kind === "address" && portOk(e, port) && e.list.check(address, family(address)))

const resolveAll = (host: string): Effect.Effect<ReadonlyArray<string>, string> =>
  Effect.callback<ReadonlyArray<string>, string>((resume) => {
    dnsLookup(host, { all: true }, (err, addresses: ReadonlyArray<LookupAddress>) =>
      resume(err ? Effect.fail(`${host} does not resolve (${err.code ?? err.message})`) : Effect.succeed(addresses.map((a) => a.address)))
    )
  }).pipe(Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.fail(`${host} does not resolve within 5 s`) }))

/**
 * Undefined when `host:port` may be sent load, else why not (naming the host). A name no entry
 * allows by name is resolved, and every address must be allowed (a name that resolves to one
 * allowed and one forbidden address could be sent to either).
 */
export const checkTarget = (list: AllowList, host: string, port: number): Effect.Effect<string | undefined> => {
  if (allowedByName(list, host, port)) return Effect.succeed(undefined)
  const refused = `target ${bare(host)}:${port} is not allowed on this node (allowed: ${list.text.join(", ")})`
  if (isIP(bare(host)) !== 0 || !list.entries.some((e) => e.kind === "address")) return Effect.succeed(refused)
  return resolveAll(host).pipe(
    Effect.map((addresses) => {
      const bad = addresses.find((a) => !allowedAddress(list, a, port))
      return bad === undefined ? undefined : `target ${bare(host)}:${port} resolves to ${bad}, which is not allowed on this node (allowed: ${list.text.join(", ")})`
    }),
    Effect.catch((why) => Effect.succeed(`target ${bare(host)}:${port} cannot be checked: ${why}`))
  )
}

/** The error a refused connect fails with; the engine reports it as `target_not_allowed`. */
export const NOT_ALLOWED = "ETARGETNOTALLOWED"

/**
 * A `lookup` for net/tls/undici connects that refuses what the list does not allow: a name
 * allowed by name resolves as usual, any other name only to allowed addresses. (IP literals
 * skip `lookup`; they were checked before the run and cannot change.)
 */
export const guardedLookup = (list: AllowList, port: number): LookupFunction => (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: ReadonlyArray<LookupAddress>) => {
    if (err) return (callback as (e: NodeJS.ErrnoException | null, a: unknown, f?: number) => void)(err, options.all ? [] : "", undefined)
    const byName = allowedByName(list, hostname, port)
    const bad = byName ? undefined : addresses.find((a) => !allowedAddress(list, a.address, port))
    const cb = callback as (e: NodeJS.ErrnoException | null, a: unknown, f?: number) => void
    if (bad !== undefined || addresses.length === 0) {
      const e: NodeJS.ErrnoException = new Error(
        `target ${hostname}:${port} resolves to ${bad?.address ?? "nothing"}, which is not allowed on this node`
      )
      e.code = NOT_ALLOWED
      return cb(e, options.all ? [] : "", undefined)
    }
    if (options.all) return cb(null, addresses)
    cb(null, addresses[0]!.address, addresses[0]!.family)
  })
}

/** Every host:port a scenario can send to: its target, each absolute URL, and each absolute
 * URL with `${column}` in it once per data row (a data file may point a request elsewhere). */
export const scenarioTargets = (scenario: Scenario): ReadonlyArray<{ readonly host: string; readonly port: number } | { readonly invalid: string }> => {
  const out = new Map<string, { host: string; port: number } | { invalid: string }>()
  const add = (url: string) => {
    try {
      const o = originOf(new URL(url))
      out.set(o.key, { host: o.host, port: o.port })
    } catch {
      out.set(url, { invalid: url })
    }
  }
  add(scenario.target.href)
  for (const r of [...scenario.setup, ...scenario.requests, ...scenario.teardown]) {
    if (!/^https?:\/\//i.test(r.path)) continue
    if (!r.path.includes("${")) add(r.path)
    else for (const row of scenario.data) add(r.path.replace(/\$\{([^}]*)\}/g, (_, name: string) => row[name] ?? ""))
  }
  return [...out.values()]
}

/** Undefined when every target of the scenario is allowed, else the first refusal. */
export const checkScenario = (list: AllowList, scenario: Scenario): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    for (const t of scenarioTargets(scenario)) {
      if ("invalid" in t) return `request URL ${t.invalid} is not a URL after substitution, so its host cannot be checked`
      const refused = yield* checkTarget(list, t.host, t.port)
      if (refused !== undefined) return refused
    }
    return undefined
  })
