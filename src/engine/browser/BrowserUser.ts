// One virtual user of the browser engine: per iteration a fresh isolated context (a new
// visitor: no cookies, cache or storage from the last one), then the scenario's steps in
// order, each pushed as a Sample labelled with the step's name (its duration, success, the
// error), and after each `goto` the page's metrics as `<step>:ttfb|dcl|load|lcp|cls`. A
// failed step saves a screenshot and ends the iteration; the user starts its next one.
// Unlike the HTTP hot loop this is plain Effect code: a step costs milliseconds of browser
// work, next to which a fiber resume is noise.
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { Duration, Effect, Result } from "effect"
import type { BrowserContext, Page } from "playwright-core"
import type { Sample, SampleSink } from "../../ingest/Sample.ts"
import type { BrowserSpec } from "./BrowserScenario.ts"
import type { BrowserPool } from "./BrowserPool.ts"
import { type Row, runStep, StepFailed } from "./Steps.ts"
import { readVitalsScript, type PageVitals, vitalEntries, vitalsInitScript } from "./WebVitals.ts"

/** Screenshots a run keeps at most: a target failing every step must not fill the disk. */
export const MAX_SCREENSHOTS = 100

/** What every user of a run shares. */
export interface BrowserRun {
  readonly spec: BrowserSpec
  readonly pool: BrowserPool
  readonly sink: SampleSink
  readonly base: URL
  readonly timeoutMs: number
  /** Epoch ms at performance.now() === 0. */
  readonly epochOffset: number
  readonly nextRow: () => Row
  /** Where screenshots go (created on first use); none are taken without it. */
  readonly screenshotDir: string | undefined
  /** Sets up each new context (init scripts, the allow-list's request filter). */
  readonly setup: (context: BrowserContext) => Promise<void>
  /** Set once the run's duration is over: users stop before their next step. */
  ending: boolean
  screenshots: number
}

export const contextSetup = (blocked: ((url: URL) => boolean) | undefined) => (context: BrowserContext): Promise<void> =>
  context.addInitScript({ content: vitalsInitScript }).then(() =>
    blocked === undefined ? undefined : context.route("**/*", (route) => {
      let url: URL | undefined
      try {
        url = new URL(route.request().url())
      } catch {
        url = undefined
      }
      return url !== undefined && (url.protocol === "http:" || url.protocol === "https:") && blocked(url)
        ? route.abort("blockedbyclient")
        : route.continue()
    }).then(() => undefined)
  )

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60)

/** Saves a PNG of the page under the run's folder; counts toward MAX_SCREENSHOTS. */
export const takeScreenshot = (run: BrowserRun, page: Page, name: string): Effect.Effect<void, StepFailed> =>
  Effect.suspend(() => {
    const dir = run.screenshotDir
    if (dir === undefined || run.screenshots >= MAX_SCREENSHOTS) return Effect.void
    const n = ++run.screenshots
    const file = join(dir, `${String(n).padStart(4, "0")}-${safeName(name)}.png`)
    return Effect.tryPromise({
      try: () => {
        mkdirSync(dir, { recursive: true })
        return page.screenshot({ path: file, timeout: 5000 })
      },
      catch: (e) => new StepFailed({ status: "error", message: `screenshot ${file}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` })
    })
  })

const sample = (run: BrowserRun, label: string, start: number, latencyMs: number, status: string, error: string | undefined): Sample => ({
  timestamp: run.epochOffset + start,
  label,
  latencyMs,
  success: error === undefined,
  status,
  bytesIn: 0,
  bytesOut: 0,
  error
})

/** One iteration in a fresh context; never fails (a failure is the failed step's sample). */
export const iteration = (run: BrowserRun, seat: Parameters<BrowserPool["context"]>[0]): Effect.Effect<void> =>
  Effect.scoped(Effect.gen(function*() {
    const steps = run.spec.steps
    const start = performance.now()
    const opened = yield* Effect.result(Effect.flatMap(run.pool.context(seat, run.setup, run.spec.viewport), (context) =>
      Effect.tryPromise({ try: () => context.newPage(), catch: (e) => new StepFailed({ status: "browser_closed", message: `new page: ${String(e).split("\n")[0]}` }) })))
    if (Result.isFailure(opened)) {
      // The first step never ran: it carries the failure so the run shows it.
      run.sink(sample(run, steps[0]!.name, start, performance.now() - start, "browser_closed", opened.failure.message))
      return
    }
    const page = opened.success
    const row = run.nextRow()
    for (const step of steps) {
      if (run.ending) return
      const t0 = performance.now()
      // Interruption (the run's end, Ctrl-C) is not a failure: it ends the fiber, no sample.
      const result = yield* Effect.result(runStep(page, step, row, run.base, run.timeoutMs, (p, name) => takeScreenshot(run, p, name)))
      const took = performance.now() - t0
      if (Result.isFailure(result)) {
        run.sink(sample(run, step.name, t0, took, result.failure.status, result.failure.message))
        if (result.failure.status !== "browser_closed") yield* Effect.ignore(takeScreenshot(run, page, `${step.name}-failed`))
        return
      }
      run.sink(sample(run, step.name, t0, took, result.success, undefined))
      if (step.goto !== undefined) {
        const vitals = yield* Effect.option(Effect.tryPromise(() => page.evaluate(readVitalsScript) as Promise<PageVitals>))
        if (vitals._tag === "Some") {
          for (const [metric, value] of vitalEntries(vitals.value)) run.sink(sample(run, `${step.name}:${metric}`, t0, value, "ok", undefined))
        }
      }
      const think = run.spec.thinkTimeMs ?? 0
      if (think > 0 && !run.ending) yield* Effect.sleep(Duration.millis(think))
    }
  }))
