// One browser step on a page: the Playwright call behind each action, with `${column}`
// replaced from the iteration's data row. A failure becomes a StepFailed whose message names
// the action and selector as the scenario wrote them, then Playwright's first line (its call
// log is dropped: a sample's error is a line, not a page). `sleep` waits on the Clock.
import { Duration, Effect, Schema } from "effect"
import type { Page, Response } from "playwright-core"
import { clip } from "../../protocol/bounded.ts"
import type { BrowserStep } from "./BrowserScenario.ts"

/** An iteration's data row (column -> value), undefined without a data file. */
export type Row = Readonly<Record<string, string>> | undefined

export class StepFailed extends Schema.TaggedError<StepFailed>()("StepFailed", {
  /** `timeout`, `http_<status>`, `expect_failed`, `browser_closed` or `error`. */
  status: Schema.String,
  message: Schema.String
}) {}

/** What a step returns on success: the status its sample carries (a goto's HTTP status). */
export type StepStatus = string

const substitute = (text: string, row: Row): string =>
  row === undefined || !text.includes("${") ? text : text.replace(/\$\{([^}]*)\}/g, (_, name: string) => row[name] ?? "")

const closedPattern = /Target page, context or browser has been closed|Browser has been closed|browser has disconnected|Target closed/i

/** Playwright's error as one clipped line, and the status class it falls in. */
export const describe = (what: string, e: unknown): StepFailed => {
  const text = e instanceof Error ? e.message : String(e)
  const first = text.split("\n")[0]!.replace(/^[a-zA-Z.]+: /, "")
  const name = e instanceof Error ? e.name : ""
  const status = name === "TimeoutError" || /Timeout \d+ms exceeded/.test(first)
    ? "timeout"
    : closedPattern.test(text)
    ? "browser_closed"
    : "error"
  return new StepFailed({ status, message: clip(`${what}: ${first}`, 300) })
}

const attempt = <A>(what: string, run: () => Promise<A>): Effect.Effect<A, StepFailed> =>
  Effect.tryPromise({ try: run, catch: (e) => describe(what, e) })

const quote = (s: string) => JSON.stringify(s)

const gotoStep = (page: Page, base: URL, path: string, timeout: number) =>
  attempt(`goto ${path}`, () => page.goto(new URL(path, base).href, { waitUntil: "load", timeout })).pipe(
    Effect.flatMap((response: Response | null) => {
      const status = response === null ? "200" : String(response.status())
      return response !== null && response.status() >= 400
        ? Effect.fail(new StepFailed({ status: `http_${status}`, message: `goto ${path}: HTTP ${status}` }))
        : Effect.succeed(status)
    })
  )

const expectText = (page: Page, selector: string, text: string, timeout: number) =>
  attempt(`expectText ${quote(selector)}`, () =>
    page.locator(selector).filter({ hasText: text }).first().waitFor({ state: "attached", timeout })).pipe(
      Effect.catch((failed) =>
        failed.status !== "timeout"
          ? Effect.fail(failed)
          : Effect.flatMap(
            Effect.promise(() => page.locator(selector).first().textContent({ timeout: 100 }).catch(() => null)),
            (actual) =>
              Effect.fail(
                new StepFailed({
                  status: "expect_failed",
                  message: clip(
                    actual === null
                      ? `expectText ${quote(selector)}: no such element within ${timeout} ms`
                      : `expectText ${quote(selector)}: ${quote(clip(actual.trim(), 80))} does not contain ${quote(text)} after ${timeout} ms`,
                    300
                  )
                })
              )
          )
      )
    )

const waitFor = (page: Page, target: string, timeout: number) =>
  target === "networkidle"
    ? attempt("waitFor networkidle", () => page.waitForLoadState("networkidle", { timeout }))
    : attempt(`waitFor ${quote(target)}`, () => page.locator(target).first().waitFor({ state: "visible", timeout }))

/**
 * Runs one step. `screenshot(name)` saves a PNG of the page where the run keeps them.
 * Returns the status its sample carries.
 */
export const runStep = (
  page: Page,
  step: BrowserStep,
  row: Row,
  base: URL,
  timeoutMs: number,
  screenshot: (page: Page, name: string) => Effect.Effect<void, StepFailed>
): Effect.Effect<StepStatus, StepFailed> => {
  const t = step.timeoutSeconds !== undefined ? step.timeoutSeconds * 1000 : timeoutMs
  const s = (text: string) => substitute(text, row)
  const action: Effect.Effect<StepStatus, StepFailed> = step.goto !== undefined
    ? gotoStep(page, base, s(step.goto), t)
    : step.click !== undefined
    ? attempt(`click ${quote(s(step.click))}`, () => page.locator(s(step.click!)).first().click({ timeout: t })).pipe(Effect.as("ok"))
    : step.fill !== undefined
    ? attempt(`fill ${quote(s(step.fill.selector))}`, () => page.locator(s(step.fill!.selector)).first().fill(s(step.fill!.value), { timeout: t })).pipe(Effect.as("ok"))
    : step.press !== undefined
    ? attempt(`press ${step.press.key}`, () =>
      step.press!.selector !== undefined
        ? page.locator(s(step.press!.selector)).first().press(step.press!.key, { timeout: t })
        : page.keyboard.press(step.press!.key)).pipe(Effect.as("ok"))
    : step.select !== undefined
    ? attempt(`select ${quote(s(step.select.selector))}`, () => page.locator(s(step.select!.selector)).first().selectOption(s(step.select!.value), { timeout: t })).pipe(Effect.as("ok"))
    : step.expectText !== undefined
    ? expectText(page, s(step.expectText.selector), s(step.expectText.text), t).pipe(Effect.as("ok"))
    : step.sleep !== undefined
    ? Effect.sleep(Duration.millis(step.sleep)).pipe(Effect.as("ok"))
    : step.screenshot !== undefined
    ? screenshot(page, typeof step.screenshot === "string" ? step.screenshot : step.name).pipe(Effect.as("ok"))
    : Effect.succeed("ok")
  if (step.waitFor === undefined) return action
  const target = s(step.waitFor)
  return Effect.flatMap(action, (status) => Effect.as(waitFor(page, target, t), status))
}
