// How the `grid` command line presents a command line it cannot parse: the error first and
// alone, on stderr, with where to find the flags (`grid run --help`), instead of the whole
// help page with the error 30 lines down. Help and version output are effect/cli's own.
// Single modules, not barrels: main.ts loads this on every start.
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as CliOutput from "effect/cli/CliOutput"

/** `grid run: Invalid value for flag --users: "x" ...` and the help hint, one error a line. */
export const invocationErrorText = (commandPath: ReadonlyArray<string>, messages: ReadonlyArray<string>): string => {
  const name = commandPath.join(" ")
  return [...messages.map((m) => `${name}: ${m}`), `(${name} --help lists every flag, with examples)`].join("\n")
}

export const presenterLayer = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(invocationErrorText(event.commandPath, event.errors.map((e) => e.message)))
      : CliOutput.defaultPresenter.present(event)
})

/** For main.ts: the presenter around the whole program. */
export const withPresenter = <A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provide(program, presenterLayer)
