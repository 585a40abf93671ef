// Debian's chromium driven by playwright-core, for the dashboard's tests: a browser of the
// scope, pages that collect their console errors and failed requests, a TCP proxy that can
// cut a page's connections, and screenshots kept under .artifacts/ (gitignored) to look at.
import { Effect, type Scope } from "effect"
import { mkdirSync } from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"

export const artifactsDir = path.join(import.meta.dirname, "..", "..", ".artifacts")

/** Chromium for the scope (as root it needs --no-sandbox). */
export const browser: Effect.Effect<Browser, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-dev-shm-usage"] })),
  (b) => Effect.promise(() => b.close())
)

export interface WatchedPage {
  readonly page: Page
  /** Console errors and uncaught exceptions so far. */
  readonly errors: Array<string>
  /** Every URL the page asked for. */
  readonly requests: Array<string>
}

/** A page in its own context (light or dark; offline: no network at all). */
export const openPage = (b: Browser, o: { readonly colorScheme?: "light" | "dark"; readonly offline?: boolean; readonly width?: number } = {}) =>
  Effect.acquireRelease(
    Effect.promise(async (): Promise<WatchedPage> => {
      const context = await b.newContext({ viewport: { width: o.width ?? 1400, height: 900 }, colorScheme: o.colorScheme ?? "light", acceptDownloads: true })
      if (o.offline === true) await context.setOffline(true)
      const page = await context.newPage()
      const errors: Array<string> = []
      const requests: Array<string> = []
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text())
      })
      page.on("pageerror", (e) => errors.push(String(e)))
      page.on("request", (r) => requests.push(r.url()))
      return { page, errors, requests }
    }),
    (w) => Effect.promise(() => w.page.context().close())
  )

/** A full-page screenshot kept as .artifacts/<name>.png. */
export const screenshot = (page: Page, name: string) =>
  Effect.promise(async () => {
    mkdirSync(artifactsDir, { recursive: true })
    const file = path.join(artifactsDir, `${name}.png`)
    await page.screenshot({ path: file, fullPage: true })
    return file
  })

/** A TCP proxy to 127.0.0.1:`upstreamPort` that can be cut (every connection dropped, new
 * ones refused) and restored on the same port. */
export const tcpProxy = (upstreamPort: number) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const sockets = new Set<net.Socket>()
      let server: net.Server | undefined
      let port = 0
      const listen = () =>
        new Promise<void>((resolve) => {
          server = net.createServer((client) => {
            const upstream = net.connect(upstreamPort, "127.0.0.1")
            sockets.add(client).add(upstream)
            const drop = () => {
              client.destroy()
              upstream.destroy()
            }
            client.on("error", drop).on("close", drop).pipe(upstream)
            upstream.on("error", drop).on("close", drop).pipe(client)
          })
          server.listen(port, "127.0.0.1", () => {
            port = (server!.address() as net.AddressInfo).port
            resolve()
          })
        })
      const cut = () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy()
          sockets.clear()
          if (server?.listening === true) server.close(() => resolve())
          else resolve()
        })
      await listen()
      return { port: () => port, cut, restore: listen }
    }),
    (p) => Effect.promise(() => p.cut())
  )
