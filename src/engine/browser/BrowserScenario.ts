// The `browser:` section of a scenario (in place of `requests:`): the steps a real Chromium
// user takes per iteration, each one a labelled sample. The shape is a Schema (unknown keys
// rejected); the rules a struct cannot say (exactly one action per step, unique names,
// `${column}` variables) are `checkBrowser`, which ScenarioLoader.ts calls so every problem
// of a file is listed together.
import { Schema } from "effect"

const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const Selector = Schema.NonEmptyString

const GotoPath = Schema.NonEmptyString.check(
  Schema.makeFilter((s: string) =>
    !s.startsWith("/") && !/^https?:\/\//i.test(s) ? `"${s}" must start with / or be an absolute http(s) URL` : undefined
  )
)

export const BrowserStep = Schema.Struct({
  /** The step's sample label; a `goto` also labels its page's metrics (`home:lcp`). */
  name: Schema.NonEmptyString.check(
    Schema.makeFilter((s: string) => (/:(ttfb|dcl|load|lcp|cls)$/.test(s) ? "must not end like a page metric (:ttfb, :dcl, :load, :lcp, :cls)" : undefined))
  ),
  /** Navigate to a path below `target` or an absolute http(s) URL, waiting for `load`. */
  goto: Schema.optional(GotoPath),
  click: Schema.optional(Selector),
  fill: Schema.optional(Schema.Struct({ selector: Selector, value: Schema.String })),
  /** A key (`Enter`, `Control+A`) pressed in `selector`, or on the page without one. */
  press: Schema.optional(Schema.Struct({ selector: Schema.optional(Selector), key: Schema.NonEmptyString })),
  select: Schema.optional(Schema.Struct({ selector: Selector, value: Schema.String })),
  /** A selector that must become visible, or `networkidle`; alone or after another action. */
  waitFor: Schema.optional(Selector),
  /** The element's text must contain `text`. */
  expectText: Schema.optional(Schema.Struct({ selector: Selector, text: Schema.String })),
  /** Pause, in ms (counted in the step's duration). */
  sleep: Schema.optional(NonNegative),
  /** Saves a PNG of the page (`true`, or a file name) to the run's screenshot folder. */
  screenshot: Schema.optional(Schema.Union([Schema.Boolean, Schema.NonEmptyString])),
  /** This step fails after it; default the scenario's `timeoutSeconds`. */
  timeoutSeconds: Schema.optional(Positive)
})
export type BrowserStep = typeof BrowserStep.Type

export const BrowserSpec = Schema.Struct({
  steps: Schema.Array(BrowserStep),
  /** Pause after each step, per user. */
  thinkTimeMs: Schema.optional(NonNegative),
  /** Users sharing one Chromium process (each in its own context). Default 5. */
  usersPerBrowser: Schema.optional(PositiveInt),
  /** Viewport of every page. Default 1280x720. */
  viewport: Schema.optional(Schema.Struct({ width: PositiveInt, height: PositiveInt }))
})
export type BrowserSpec = typeof BrowserSpec.Type

/** Actions a step may hold one of (`waitFor` may follow any of them, or stand alone). */
export const actions = ["goto", "click", "fill", "press", "select", "expectText", "sleep", "screenshot"] as const

/** Page metrics a `goto` step records, as `<step>:<metric>` labels. */
export const pageMetrics = ["ttfb", "dcl", "load", "lcp", "cls"] as const

/** Every label a browser scenario produces, in step order (thresholds may name any). */
export const browserLabels = (spec: BrowserSpec): Array<string> =>
  spec.steps.flatMap((s) => (s.goto !== undefined ? [s.name, ...pageMetrics.map((m) => `${s.name}:${m}`)] : [s.name]))

/** The texts of a step where `${column}` is replaced per iteration, with their paths. */
export const substituted = (step: BrowserStep): Array<[string, string]> => {
  const out: Array<[string, string]> = []
  if (step.goto !== undefined) out.push(["goto", step.goto])
  if (step.click !== undefined) out.push(["click", step.click])
  if (step.fill !== undefined) out.push(["fill.selector", step.fill.selector], ["fill.value", step.fill.value])
  if (step.press?.selector !== undefined) out.push(["press.selector", step.press.selector])
  if (step.select !== undefined) out.push(["select.selector", step.select.selector], ["select.value", step.select.value])
  if (step.waitFor !== undefined) out.push(["waitFor", step.waitFor])
  if (step.expectText !== undefined) out.push(["expectText.selector", step.expectText.selector], ["expectText.text", step.expectText.text])
  return out
}

/** Cross-field rules; `checkVariables(where, text)` reports `${column}` problems. */
export const checkBrowser = (
  spec: BrowserSpec,
  problems: Array<string>,
  checkVariables: (where: string, text: string) => void
): void => {
  if (spec.steps.length === 0) problems.push("browser.steps: at least one step is required")
  const seen = new Set<string>()
  spec.steps.forEach((step, i) => {
    const at = `browser.steps[${i}]`
    const present = actions.filter((a) => step[a] !== undefined)
    if (present.length > 1) problems.push(`${at}: one action per step, found ${present.join(", ")}`)
    if (present.length === 0 && step.waitFor === undefined) {
      problems.push(`${at}: needs an action (${actions.join(", ")} or waitFor)`)
    }
    if (step.waitFor !== undefined && (step.sleep !== undefined || step.screenshot !== undefined)) {
      problems.push(`${at}.waitFor: not with ${step.sleep !== undefined ? "sleep" : "screenshot"}`)
    }
    if (seen.has(step.name)) problems.push(`${at}.name: "${step.name}" is used by an earlier step`)
    seen.add(step.name)
    for (const [where, text] of substituted(step)) checkVariables(`${at}.${where}`, text)
  })
  if (spec.steps.length > 0 && spec.steps[0]!.goto === undefined) problems.push("browser.steps[0]: the first step must be a goto (a new user starts on a blank page)")
}
