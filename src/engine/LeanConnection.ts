// The engine's hot-path HTTP/1.1 client: one keep-alive socket (net or tls), one request
// in flight, requests written as pre-serialised Buffers, responses parsed by http-parser-js
// (the maintained parser autocannon uses). Plain callbacks, no Effect, no per-request
// allocation beyond the parser's own: undici's Pool.request loop tops out at about 70% of
// autocannon here, this path is what lets the engine reach it (see bench/engine.bench.ts).
// Sessions (Session.ts) wrap it; the Effect boundary is in LoadModels.ts, whose fibers drive
// the hot loop (Iteration.ts). undici serves what this path does not cover.
import { connect as netConnect, type LookupFunction, type Socket } from "node:net"
import { connect as tlsConnect } from "node:tls"
import { HTTPParser } from "http-parser-js"
import { BodyCollector, type Collect } from "./flows/Response.ts"

/**
 * Called once per request: `error` is set for transport failures (no HTTP status). `headers`
 * (flat name, value list) and `body` come only when the send asked for them (`collect`).
 */
export type ResponseCallback = (
  error: string | undefined,
  status: number,
  bytesIn: number,
  headers?: ReadonlyArray<string> | undefined,
  body?: ReadonlyArray<Buffer> | undefined
) => void

export type { Collect }

export interface Endpoint {
  readonly host: string
  readonly port: number
  readonly tls: boolean
  readonly timeoutMs: number
  /** The allow-list's resolver, when the node has one (TargetAllowList.ts). */
  readonly lookup?: LookupFunction | undefined
}

const kOnHeadersComplete = HTTPParser.kOnHeadersComplete
const kOnMessageComplete = HTTPParser.kOnMessageComplete
const kOnBody = HTTPParser.kOnBody

export class LeanConnection {
  private socket: Socket | undefined = undefined
  private connected = false
  private parser: InstanceType<typeof HTTPParser>
  private pending: Buffer | undefined = undefined
  private callback: ResponseCallback | undefined = undefined
  private status = 0
  private bytesIn = 0
  private keepAlive = true
  private skipBody = false
  private collect: Collect = 0
  private headers: ReadonlyArray<string> | undefined = undefined
  private body: BodyCollector | undefined = undefined
  private closed = false
  /** The request in flight, kept to resend once if a reused socket turns out stale. */
  private inFlight: Buffer | undefined = undefined
  /** Responses completed on the current socket. */
  private served = 0
  private reused = false
  private readonly endpoint: Endpoint

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint
    this.parser = new HTTPParser(HTTPParser.RESPONSE)
    this.installParser()
  }

  /** Sends one request; `head` tells the parser the response has no body. */
  send(request: Buffer, head: boolean, callback: ResponseCallback, collect: Collect = 0): void {
    if (this.callback !== undefined) {
      callback("request already in flight on this connection", 0, 0)
      return
    }
    if (this.closed) {
      callback("connection closed", 0, 0)
      return
    }
    this.callback = callback
    this.status = 0
    this.bytesIn = 0
    this.skipBody = head
    this.collect = collect
    this.headers = undefined
    this.body = undefined
    this.inFlight = request
    this.reused = this.served > 0
    if (this.socket === undefined) this.open()
    if (this.connected) this.socket!.write(request)
    else this.pending = request
  }

  /** Fails the in-flight request (if any) and drops the socket; the next send reconnects. */
  abort(reason = "aborted"): void {
    this.drop(reason)
  }

  /** Aborts and refuses further sends. */
  close(): void {
    this.closed = true
    this.drop("aborted")
  }

  get busy(): boolean {
    return this.callback !== undefined
  }

  private installParser(): void {
    const parser = this.parser as unknown as Record<number, unknown>
    parser[kOnHeadersComplete] = (info: { statusCode: number; shouldKeepAlive: boolean; headers: Array<string> }) => {
      this.status = info.statusCode
      this.keepAlive = info.shouldKeepAlive
      if (this.collect > 0) this.headers = info.headers
      if (this.collect === 2) this.body = new BodyCollector()
      return this.skipBody ? 1 : 0
    }
    parser[kOnBody] = (chunk: Buffer, offset: number, length: number) => {
      if (this.body !== undefined) this.body.add(offset === 0 && length === chunk.length ? chunk : chunk.subarray(offset, offset + length))
    }
    parser[kOnMessageComplete] = () => this.complete()
  }

  private open(): void {
    const { host, port, tls, timeoutMs, lookup } = this.endpoint
    const socket = tls
      ? tlsConnect({ host, port, servername: host, rejectUnauthorized: false, ...(lookup ? { lookup } : {}) })
      : netConnect({ host, port, ...(lookup ? { lookup } : {}) })
    this.socket = socket
    this.connected = false
    socket.setNoDelay(true)
    socket.setTimeout(timeoutMs)
    socket.on(tls ? "secureConnect" : "connect", () => {
      if (this.socket !== socket) return
      this.connected = true
      const pending = this.pending
      this.pending = undefined
      if (pending !== undefined) socket.write(pending)
    })
    socket.on("data", (chunk: Buffer) => {
      if (this.socket !== socket) return
      this.bytesIn += chunk.length
      const r = this.parser.execute(chunk)
      if (r instanceof Error) this.drop(`bad response: ${r.message}`)
    })
    socket.on("timeout", () => {
      if (this.socket === socket && this.callback !== undefined) this.drop("timeout")
    })
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.failOrRetry(err.code !== undefined ? `${err.code}: ${err.message}` : err.message)
    })
    socket.on("close", () => {
      if (this.socket !== socket) return
      // A server closing a body-until-EOF response completes it; anything else in flight fails.
      if (this.callback !== undefined && this.bytesIn > 0) this.parser.finish()
      this.failOrRetry("connection closed by server")
    })
  }

  /**
   * A kept-alive socket the server closed while idle fails the next request before any
   * byte comes back: that request was never processed, so it is sent once more on a fresh
   * connection (as browsers and undici do) instead of counting a spurious error.
   */
  private failOrRetry(reason: string): void {
    if (this.callback !== undefined && this.reused && this.bytesIn === 0 && this.inFlight !== undefined) {
      const request = this.inFlight
      this.reset()
      this.reused = false
      this.open()
      this.pending = request
      return
    }
    this.drop(reason)
  }

  private complete(): void {
    this.served++
    const cb = this.callback
    this.callback = undefined
    const headers = this.headers
    const body = this.body
    this.headers = undefined
    this.body = undefined
    if (!this.keepAlive) this.reset()
    if (cb !== undefined) cb(undefined, this.status, this.bytesIn, headers, body?.chunks)
  }

  private drop(reason: string): void {
    this.reset()
    const cb = this.callback
    this.callback = undefined
    if (cb !== undefined) cb(reason, 0, this.bytesIn)
  }

  private reset(): void {
    const socket = this.socket
    this.socket = undefined
    this.connected = false
    this.pending = undefined
    this.served = 0
    if (socket !== undefined) socket.destroy()
    this.parser = new HTTPParser(HTTPParser.RESPONSE)
    this.installParser()
  }
}
