// `grid target`: a small demo HTTP server on node:http so the README's quickstart, the
// tests and the benchmarks have something local to load. Per-path latency and error rate
// come from routes (flags) or from query parameters (`?latency=50&status=503`, `close=1`
// for Connection: close, `chunked=1` for a chunked body); every
// request is counted per path, and `GET /__stats` returns the counts so tests can assert
// exact totals (`POST /__reset` zeroes them).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Schema } from "effect"
import { servePage } from "./TargetPage.ts"
import { TargetApp } from "./TargetApp.ts"

export interface Route {
  readonly latencyMs: number
  /** 0..1: share of requests answered with 500. */
  readonly errorRate: number
}

export interface TargetOptions {
  readonly port: number
  readonly host: string
  /** Default for paths without a route. */
  readonly defaults: Route
  readonly routes: Readonly<Record<string, Route>>
}

export interface TargetStats {
  total: number
  paths: Record<string, number>
  methods: Record<string, number>
  bytesIn: number
}

export interface RunningTarget {
  readonly url: string
  readonly port: number
  readonly stats: TargetStats
  /** Currently open client connections. */
  readonly connections: () => number
}

export class TargetError extends Schema.TaggedError<TargetError>()("TargetError", { message: Schema.String }) {}

/** Parses `--route` values: `/path=LATENCY_MS[,ERROR_RATE]`, e.g. `/slow=200,0.05`. */
export const parseRoute = (spec: string): [string, Route] | string => {
  const m = /^(\/[^=]*)=(\d+(?:\.\d+)?)(?:,(0(?:\.\d+)?|1(?:\.0+)?))?$/.exec(spec)
  if (m === null) return `bad route "${spec}": expected /path=LATENCY_MS[,ERROR_RATE] (e.g. /slow=200,0.05)`
  return [m[1]!, { latencyMs: Number(m[2]), errorRate: m[3] === undefined ? 0 : Number(m[3]) }]
}

const body = Buffer.from("hello from grid target\n")

const handler = (options: TargetOptions, stats: TargetStats, app = new TargetApp()) => (req: IncomingMessage, res: ServerResponse) => {
  const url = req.url ?? "/"
  const q = url.indexOf("?")
  const path = q === -1 ? url : url.slice(0, q)
  if (path === "/__stats") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats))
    return
  }
  if (path === "/__reset" && req.method === "POST") {
    stats.total = 0
    stats.paths = {}
    stats.methods = {}
    stats.bytesIn = 0
    res.writeHead(204).end()
    return
  }
  stats.total++
  stats.paths[path] = (stats.paths[path] ?? 0) + 1
  stats.methods[req.method ?? "?"] = (stats.methods[req.method ?? "?"] ?? 0) + 1
  // The browser engine's page: a form and a result a script shows later (TargetPage.ts).
  if (path === "/browser") return servePage(req, res, q === -1 ? undefined : new URLSearchParams(url.slice(q + 1)), (options.routes[path] ?? options.defaults).latencyMs)
  // The user-flow app (/login, /cart, /json, /app: TargetApp.ts).
  if (app.handle(req, res, path, q === -1 ? undefined : new URLSearchParams(url.slice(q + 1)))) return
  const route = options.routes[path] ?? options.defaults
  let latency = route.latencyMs
  let status = Math.random() < route.errorRate ? 500 : 200
  let chunked = false
  if (q !== -1) {
    const params = new URLSearchParams(url.slice(q + 1))
    const l = params.get("latency")
    const s = params.get("status")
    if (l !== null && Number.isFinite(Number(l))) latency = Number(l)
    if (s !== null && /^[1-5]\d\d$/.test(s)) status = Number(s)
    if (params.get("close") === "1") res.shouldKeepAlive = false
    if (params.get("chunked") === "1") chunked = true
  }
  req.on("data", (chunk: Buffer) => (stats.bytesIn += chunk.length))
  req.on("end", () => {
    const reply = () => {
      if (res.destroyed) return
      if (chunked) {
        res.writeHead(status, { "content-type": "text/plain" })
        res.write(body)
        res.end(body)
        return
      }
      res.writeHead(status, { "content-type": "text/plain", "content-length": body.length })
      res.end(req.method === "HEAD" ? undefined : body)
    }
    if (latency > 0) setTimeout(reply, latency)
    else reply()
  })
}

/** Starts the server; closing the scope closes it and every open connection. */
export const serveTarget = (options: TargetOptions) =>
  Effect.acquireRelease(
    Effect.callback<{ server: Server; target: RunningTarget }, TargetError>((resume) => {
      const stats: TargetStats = { total: 0, paths: {}, methods: {}, bytesIn: 0 }
      const server = createServer({ keepAliveTimeout: 60_000 }, handler(options, stats))
      let open = 0
      server.on("connection", (socket) => {
        open++
        socket.once("close", () => open--)
      })
      server.once("error", (e: NodeJS.ErrnoException) =>
        resume(Effect.fail(new TargetError({ message: `cannot listen on ${options.host}:${options.port}: ${e.code ?? e.message}` }))))
      server.listen(options.port, options.host, () => {
        const port = (server.address() as AddressInfo).port
        const host = options.host.includes(":") ? `[${options.host}]` : options.host
        resume(Effect.succeed({ server, target: { url: `http://${host}:${port}`, port, stats, connections: () => open } }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map(({ target }) => target))
