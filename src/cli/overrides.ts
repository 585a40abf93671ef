// The scenario overrides shared by `grid run` and `grid engine` (the protocol's `params`), and
// the up-front check of every flag: a bad value is reported before anything starts, naming the
// flag as the user typed it (`--users 0: ...`), never as the protocol field it turns into.
import { existsSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { Duration, Option } from "effect"
import { Flag } from "effect/cli"
import type { ScenarioOverrides } from "../engine/Scenario.ts"
import { durationFlag } from "./flags.ts"

export const overrideFlags = {
  target: Flag.String("target").pipe(Flag.withDescription("Base URL, replaces the scenario's `target`"), Flag.optional),
  users: Flag.Int("users").pipe(Flag.withDescription("Closed model: virtual users (at least 1)"), Flag.optional),
  rampUp: durationFlag("ramp-up", "Closed model: ramp-up time, part of --duration").pipe(Flag.optional),
  duration: durationFlag("duration", "Run length, ramp-up included").pipe(Flag.optional),
  rate: Flag.Finite("rate").pipe(Flag.withDescription("Open model: arrivals per second (more than 0)"), Flag.optional)
}

export interface OverrideValues {
  readonly target: Option.Option<string>
  readonly users: Option.Option<number>
  readonly rampUp: Option.Option<Duration.Duration>
  readonly duration: Option.Option<Duration.Duration>
  readonly rate: Option.Option<number>
}

const seconds = (d: Option.Option<Duration.Duration>) => Option.getOrUndefined(Option.map(d, (v) => Duration.toMillis(v) / 1000))

export const toOverrides = (o: OverrideValues): ScenarioOverrides => ({
  target: Option.getOrUndefined(o.target),
  users: Option.getOrUndefined(o.users),
  rampUpSeconds: seconds(o.rampUp),
  durationSeconds: seconds(o.duration),
  rate: Option.getOrUndefined(o.rate)
})

const show = (d: Duration.Duration) => {
  const ms = Duration.toMillis(d)
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

/** Every problem of the override flags, each naming its flag. */
export const overrideProblems = (o: OverrideValues): Array<string> => {
  const problems: Array<string> = []
  if (Option.isSome(o.target)) {
    let ok = false
    try {
      const u = new URL(o.target.value)
      ok = u.protocol === "http:" || u.protocol === "https:"
    } catch {
      ok = false
    }
    if (!ok) problems.push(`--target ${o.target.value}: not an http(s) URL (e.g. http://127.0.0.1:8080)`)
  }
  if (Option.isSome(o.users) && o.users.value < 1) problems.push(`--users ${o.users.value}: must be at least 1`)
  if (Option.isSome(o.rate) && !(o.rate.value > 0)) problems.push(`--rate ${o.rate.value}: must be more than 0 arrivals per second`)
  if (Option.isSome(o.users) && Option.isSome(o.rate)) problems.push("--users and --rate: give one (--users: closed model, --rate: open model)")
  if (Option.isSome(o.duration) && Duration.toMillis(o.duration.value) <= 0) problems.push(`--duration ${show(o.duration.value)}: must be more than 0`)
  if (Option.isSome(o.rampUp) && Option.isSome(o.rate)) problems.push("--ramp-up: only for the closed model (--users), not with --rate")
  if (
    Option.isSome(o.rampUp) && Option.isSome(o.duration) && Duration.toMillis(o.duration.value) > 0 &&
    Duration.toMillis(o.rampUp.value) > Duration.toMillis(o.duration.value)
  ) {
    problems.push(`--ramp-up ${show(o.rampUp.value)}: longer than --duration ${show(o.duration.value)} (the duration includes the ramp-up)`)
  }
  return problems
}

/** An output file's problem, if any: its folder must exist (checked before a run, not after). */
export const outputProblem = (flag: string, file: Option.Option<string>): string | undefined => {
  if (Option.isNone(file) || file.value === "-") return undefined
  const dir = dirname(resolve(file.value))
  if (!existsSync(dir)) return `${flag} ${file.value}: no such directory: ${dir}`
  if (!statSync(dir).isDirectory()) return `${flag} ${file.value}: ${dir} is not a directory`
  if (existsSync(file.value) && statSync(file.value).isDirectory()) return `${flag} ${file.value}: is a directory`
  return undefined
}
