// A session is what one virtual user (or one open-model connection slot) sends through:
// one lean keep-alive connection per origin, or undici `Pool.request` on pools shared by
// the whole run (the `undici` client, kept for comparison and for what the lean path does
// not cover). Callback-based: the hot loop in Iteration.ts drives it without Effect.
import type { LookupFunction } from "node:net"
import { Pool } from "undici"
import { BodyCollector } from "./flows/Response.ts"
import { type Collect, LeanConnection, type ResponseCallback } from "./LeanConnection.ts"
import type { CompiledRequest, Env, Origin } from "./RequestPlan.ts"

export interface Session {
  /**
   * Sends one request for the user `env` with its jar's `cookie` header value ("" for none),
   * asking for the response's headers and body as `collect` says; returns the bytes written
   * (for the sample's `bytesOut`).
   */
  send(request: CompiledRequest, env: Env, cookie: string, collect: Collect, callback: ResponseCallback): number
  /** Fails the in-flight request and drops the connection (reconnects on next send). */
  abort(): void
  /** Aborts and releases every socket of the session. */
  close(): void
}

export type SessionFactory = () => Session

/** The allow-list's resolver for an origin's connects; none without an allow-list. */
export type ConnectGuard = ((origin: Origin) => LookupFunction) | undefined

class LeanSession implements Session {
  private readonly connections = new Map<string, LeanConnection>()
  private readonly timeoutMs: number
  private last: LeanConnection | undefined = undefined
  private lastKey = ""
  private readonly guard: ConnectGuard

  constructor(timeoutMs: number, guard: ConnectGuard) {
    this.timeoutMs = timeoutMs
    this.guard = guard
  }

  send(request: CompiledRequest, env: Env, cookie: string, collect: Collect, callback: ResponseCallback): number {
    const origin = request.origin
    let conn = origin.key === this.lastKey ? this.last : this.connections.get(origin.key)
    if (conn === undefined) {
      conn = new LeanConnection({ host: origin.host, port: origin.port, tls: origin.tls, timeoutMs: this.timeoutMs, lookup: this.guard?.(origin) })
      this.connections.set(origin.key, conn)
    }
    this.last = conn
    this.lastKey = origin.key
    const bytes = request.bytes(env, cookie)
    conn.send(bytes, request.head, callback, collect)
    return bytes.length
  }

  abort(): void {
    for (const c of this.connections.values()) c.abort()
  }

  close(): void {
    for (const c of this.connections.values()) c.close()
    this.connections.clear()
    this.last = undefined
    this.lastKey = ""
  }
}

/** Pools shared by every undici session of a run; `close` destroys them all. */
export class UndiciPools {
  private readonly pools = new Map<string, Pool>()
  private readonly connections: number
  private readonly timeoutMs: number
  private readonly guard: ConnectGuard
  constructor(connections: number, timeoutMs: number, guard: ConnectGuard = undefined) {
    this.connections = connections
    this.timeoutMs = timeoutMs
    this.guard = guard
  }
  get(origin: Origin): Pool {
    let pool = this.pools.get(origin.key)
    if (pool === undefined) {
      pool = new Pool(origin.key, {
        connections: this.connections,
        pipelining: 1,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        connect: { rejectUnauthorized: false, ...(this.guard ? { lookup: this.guard(origin) } : {}) }
      })
      this.pools.set(origin.key, pool)
    }
    return pool
  }
  close(): Promise<void> {
    const all = [...this.pools.values()].map((p) => p.destroy())
    this.pools.clear()
    return Promise.all(all).then(() => undefined)
  }
}

/** undici's header object as the flat list the lean parser gives (one entry per Set-Cookie). */
const flatHeaders = (headers: Record<string, string | Array<string> | undefined>): Array<string> => {
  const out: Array<string> = []
  for (const k in headers) {
    const v = headers[k]
    if (Array.isArray(v)) for (const one of v) out.push(k, one)
    else if (v !== undefined) out.push(k, v)
  }
  return out
}

const failure = (err: NodeJS.ErrnoException): string => {
  const code = err.code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code
  return code !== undefined ? `${code}: ${err.message}` : err.message
}

class UndiciSession implements Session {
  private controller: AbortController | undefined = undefined
  private readonly pools: UndiciPools
  constructor(pools: UndiciPools) {
    this.pools = pools
  }

  send(request: CompiledRequest, env: Env, cookie: string, collect: Collect, callback: ResponseCallback): number {
    const p = request.parts(env, cookie)
    const controller = new AbortController()
    this.controller = controller
    let done = false
    const finish: ResponseCallback = (e, s, b, h, body) => {
      if (done) return
      done = true
      if (this.controller === controller) this.controller = undefined
      callback(e, s, b, h, body)
    }
    this.pools.get(request.origin).request({
      path: p.path,
      method: request.method as "GET",
      headers: p.headers,
      body: p.body ?? null,
      signal: controller.signal
    }).then((res) => {
      // Events, not `for await`: async iteration of the body costs a third of the throughput.
      let bytes = 0
      const body = collect === 2 ? new BodyCollector() : undefined
      res.body.on("data", (chunk: Buffer) => {
        bytes += chunk.length
        body?.add(chunk)
      })
      res.body.on("end", () => finish(undefined, res.statusCode, bytes, collect > 0 ? flatHeaders(res.headers) : undefined, body?.chunks))
      res.body.on("error", (err: NodeJS.ErrnoException) => finish(failure(err), 0, bytes))
    }, (err: NodeJS.ErrnoException) => finish(failure(err), 0, 0))
    return p.body === undefined ? 0 : Buffer.byteLength(p.body)
  }

  abort(): void {
    this.controller?.abort()
  }

  close(): void {
    this.abort()
  }
}

export const leanSessions = (timeoutMs: number, guard: ConnectGuard = undefined): SessionFactory => () => new LeanSession(timeoutMs, guard)
export const undiciSessions = (pools: UndiciPools): SessionFactory => () => new UndiciSession(pools)
