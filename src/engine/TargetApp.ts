// The small application `grid target` serves for user flows (TargetServer.ts routes to it):
// `POST /login` answers a per-user token in JSON and sets a session cookie; `GET /cart` needs
// both (`Authorization: Bearer <token>` and the cookie) and answers 401 otherwise; `GET /json`
// answers `{"ok": true}` (or `false` with `?ok=false`, still a 200: what a body check is
// for); `GET /app` is a page whose script logs in and reads the cart, with a stylesheet and
// a script file as static assets (what a browser's HAR recording of a real app looks like).
// `GET /cookies/set` sets cookies a client must treat differently (path-scoped, expired,
// Secure, another domain's); `/cookies/echo` and `/cookies/deep/echo` answer the names sent.
import { randomBytes } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"

/** Sessions kept at most; the oldest is forgotten first (a long run must not grow memory). */
const MAX_SESSIONS = 100_000
const MAX_LOGIN_BODY = 16 * 1024

const page = `<!doctype html>
<html><head><title>grid target app</title><link rel="stylesheet" href="/static/app.css"></head>
<body><h1>grid target app</h1><pre id="out">loading</pre>
<script src="/static/app.js"></script></body></html>
`
const script = `fetch("/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "alice" }) })
  .then((r) => r.json())
  .then((j) => fetch("/cart", { headers: { authorization: "Bearer " + j.token } }))
  .then((r) => r.json())
  .then((c) => { document.getElementById("out").textContent = JSON.stringify(c); document.body.dataset.done = "1" })
`
const css = "body { font-family: sans-serif }\n"

const cookieOf = (header: string | undefined, name: string): string | undefined => {
  if (header === undefined) return undefined
  for (const part of header.split(";")) {
    const i = part.indexOf("=")
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}

const json = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
  const body = JSON.stringify(value)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers }).end(body)
}

const text = (res: ServerResponse, type: string, body: string) =>
  res.writeHead(200, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" }).end(body)

/** The app's routes; `handle` answers and returns true for a path it owns. */
export class TargetApp {
  /** Session cookie -> token. */
  private readonly sessions = new Map<string, string>()

  handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams | undefined): boolean {
    switch (path) {
      case "/login":
        if (req.method !== "POST") return false
        this.login(req, res)
        return true
      case "/cart":
        this.cart(req, res)
        return true
      case "/json":
        req.resume()
        json(res, 200, { ok: query?.get("ok") !== "false" })
        return true
      case "/app":
        req.resume()
        text(res, "text/html; charset=utf-8", page)
        return true
      case "/static/app.js":
        req.resume()
        text(res, "text/javascript", script)
        return true
      case "/cookies/set":
        req.resume()
        res.writeHead(200, {
          "content-type": "application/json",
          "set-cookie": ["a=1; Path=/", "b=2; Path=/cookies/deep", "c=3; Path=/; Max-Age=0", "d=4; Path=/; Secure", "e=5; Path=/; Domain=example.com"]
        }).end("{}")
        return true
      case "/cookies/echo":
      case "/cookies/deep/echo": {
        req.resume()
        const names = (req.headers.cookie ?? "").split(";").map((c) => c.split("=")[0]!.trim()).filter((n) => n !== "").sort()
        json(res, 200, { names })
        return true
      }
      case "/static/app.css":
        req.resume()
        text(res, "text/css", css)
        return true
    }
    return false
  }

  private login(req: IncomingMessage, res: ServerResponse): void {
    let size = 0
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => {
      size += c.length
      if (size <= MAX_LOGIN_BODY) chunks.push(c)
    })
    req.on("end", () => {
      let user = "anonymous"
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { user?: unknown }
        if (typeof body.user === "string" && body.user.length > 0) user = body.user.slice(0, 100)
      } catch {
        // no JSON body: an anonymous login
      }
      const token = randomBytes(12).toString("hex")
      const sid = randomBytes(12).toString("hex")
      this.sessions.set(sid, token)
      if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!)
      json(res, 200, { ok: true, user, token }, { "set-cookie": `sid=${sid}; Path=/; HttpOnly; SameSite=Lax` })
    })
  }

  private cart(req: IncomingMessage, res: ServerResponse): void {
    req.resume()
    const sid = cookieOf(req.headers.cookie, "sid")
    const auth = req.headers.authorization
    const token = sid === undefined ? undefined : this.sessions.get(sid)
    if (token === undefined || auth !== `Bearer ${token}`) {
      json(res, 401, { ok: false, error: sid === undefined ? "no session cookie" : token === undefined ? "unknown session" : "bad token" })
      return
    }
    json(res, 200, { ok: true, items: [{ sku: "grid-1", qty: 1 }] })
  }
}
