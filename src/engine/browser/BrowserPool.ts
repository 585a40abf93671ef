// The Chromium processes of a run: one per `usersPerBrowser` virtual users, so a node's
// memory grows by whole browsers in a predictable way. A user claims a seat in a browser
// for its life (a scoped resource) and opens one isolated context per iteration (also
// scoped: closed on success, failure and interruption alike). A browser that disconnects
// (crashed, killed) fails its users' current iteration through Playwright's own rejections
// and is relaunched when one of them next asks for it. Closing the pool's scope closes
// every browser. Playwright's own signal handlers are off: grid's scopes do the closing
// (its SIGINT handler would exit the process under `grid run` before the summary).
import { Duration, Effect, type Scope } from "effect"
import { type Browser, type BrowserContext, chromium } from "playwright-core"
import { chromiumArgs } from "./BrowserOptions.ts"
import { describe, type StepFailed } from "./Steps.ts"

interface Seat {
  users: number
  browser: Browser | undefined
  launching: Promise<Browser> | undefined
}

export interface PoolStats {
  /** Browsers started, replacements included. */
  launched: number
  /** Browsers that disconnected while the run needed them. */
  crashed: number
}

/** How long closing a browser or context may take before it is left to the process exit. */
const CLOSE_TIMEOUT = Duration.seconds(5)

export class BrowserPool {
  readonly stats: PoolStats = { launched: 0, crashed: 0 }
  private readonly seats: Array<Seat> = []
  private closing = false

  readonly executablePath: string
  readonly usersPerBrowser: number

  constructor(executablePath: string, usersPerBrowser: number) {
    this.executablePath = executablePath
    this.usersPerBrowser = usersPerBrowser
  }

  private launch(seat: Seat): Promise<Browser> {
    if (seat.launching !== undefined) return seat.launching
    const started = chromium.launch({
      executablePath: this.executablePath,
      headless: true,
      args: chromiumArgs(),
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false
    }).then((browser) => {
      this.stats.launched++
      seat.browser = browser
      seat.launching = undefined
      browser.once("disconnected", () => {
        if (seat.browser === browser) seat.browser = undefined
        if (!this.closing && seat.users > 0) this.stats.crashed++
      })
      if (this.closing) void browser.close().catch(() => undefined)
      return browser
    }, (e: unknown) => {
      seat.launching = undefined
      throw e
    })
    seat.launching = started
    return started
  }

  /** A live browser for the seat, started (or restarted) when needed. */
  browserOf(seat: Seat): Effect.Effect<Browser, StepFailed> {
    return Effect.tryPromise({
      try: () => (seat.browser?.isConnected() === true ? Promise.resolve(seat.browser) : this.launch(seat)),
      catch: (e) => describe("launch chromium", e)
    })
  }

  /** Starts the first browser before any user claims a seat in it (the run's preflight). */
  readonly warmUp: Effect.Effect<Browser, StepFailed> = Effect.suspend(() => {
    const seat: Seat = { users: 0, browser: undefined, launching: undefined }
    this.seats.push(seat)
    return this.browserOf(seat)
  })

  /** A seat for one user, for the life of the scope; an emptied browser is closed. */
  readonly seat: Effect.Effect<Seat, never, Scope.Scope> = Effect.acquireRelease(
    Effect.sync(() => {
      const seat = this.seats.find((s) => s.users < this.usersPerBrowser) ??
        (() => {
          const s: Seat = { users: 0, browser: undefined, launching: undefined }
          this.seats.push(s)
          return s
        })()
      seat.users++
      return seat
    }),
    (seat) =>
      Effect.suspend(() => {
        seat.users--
        const browser = seat.browser
        if (seat.users > 0 || browser === undefined) return Effect.void
        seat.browser = undefined
        return closeQuietly(() => browser.close())
      })
  )

  /** A fresh isolated context in the seat's browser, closed with the scope. */
  context(
    seat: Seat,
    setup: (context: BrowserContext) => Promise<void>,
    viewport: { readonly width: number; readonly height: number } | undefined = undefined
  ): Effect.Effect<BrowserContext, StepFailed, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.flatMap(this.browserOf(seat), (browser) =>
        Effect.tryPromise({
          try: () =>
            browser.newContext(viewport === undefined ? {} : { viewport: { width: viewport.width, height: viewport.height } }).then((context) =>
              setup(context).then(
                () => context,
                (e: unknown) => context.close().catch(() => undefined).then(() => Promise.reject(e))
              )
            ),
          catch: (e) => describe("new context", e)
        })),
      (context) => closeQuietly(() => context.close())
    )
  }

  /** Closes every browser (the run's end, an interruption, a failure). */
  readonly closeAll: Effect.Effect<void> = Effect.suspend(() => {
    this.closing = true
    const pending = this.seats.map((s) => {
      const browser = s.browser
      const launching = s.launching
      s.browser = undefined
      return closeQuietly(() => (browser !== undefined ? browser.close() : launching?.then((b) => b.close()) ?? Promise.resolve()))
    })
    return Effect.all(pending, { concurrency: "unbounded", discard: true })
  })

  /** Browser processes alive now. */
  get running(): number {
    return this.seats.filter((s) => s.browser?.isConnected() === true).length
  }
}

/** A close that never fails and never hangs the scope: a dead browser may not answer. */
const closeQuietly = (close: () => Promise<void>): Effect.Effect<void> =>
  Effect.promise(() => close().catch(() => undefined)).pipe(Effect.timeoutOption(CLOSE_TIMEOUT), Effect.asVoid)

/** The pool as a scoped resource: every browser is closed when the scope closes. */
export const makePool = (executablePath: string, usersPerBrowser: number): Effect.Effect<BrowserPool, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(() => new BrowserPool(executablePath, usersPerBrowser)), (pool) => pool.closeAll)
