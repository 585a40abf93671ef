// The `grid` command line: one subcommand per file in src/cli/, assembled here. Only the module
// of the subcommand asked for is loaded (a daemon never evaluates the controller's or the
// report's code, `grid --version` loads nothing but this file), the same in the sources, the
// npm bundle and the single executable; help and unknown words load them all to list them.
// Nothing here may import Effect statically: that alone costs more than a bare Node start.
import type { Effect as EffectType } from "effect"
import type { Command } from "effect/cli"
import { instantAnswer, VERSION } from "../version.ts"

// Each subcommand has its own name, flags and needs; NodeServices below provides them all.
type AnyCommand = Command.Command<any, any, any, any, any>

const subcommands: Record<string, () => Promise<AnyCommand>> = {
  daemon: () => import("./daemon.ts").then((m) => m.daemonCommand),
  run: () => import("./run.ts").then((m) => m.runCommand),
  engine: () => import("./engine.ts").then((m) => m.engineCommand),
  target: () => import("./target.ts").then((m) => m.targetCommand),
  convert: () => import("./convert.ts").then((m) => m.convertCommand),
  report: () => import("./report.ts").then((m) => m.reportCommand),
  nodes: () => import("./nodes.ts").then((m) => m.nodesCommand),
  launch: () => import("./launch.ts").then((m) => m.launchCommand),
  stop: () => import("./stop.ts").then((m) => m.stopCommand),
  flags: () => import("./flagsCommand.ts").then((m) => m.flagsCommand),
  results: () => import("./results.ts").then((m) => m.resultsCommand),
  version: () => import("./version.ts").then((m) => m.versionCommand)
}

/** The subcommand word: the first argument that is not a global flag or its value. */
const subcommandOf = (args: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--log-level") i++
    else if (!a.startsWith("-")) return a
  }
  return undefined
}

const main = (args: ReadonlyArray<string>): Promise<void> => {
  const word = subcommandOf(args)
  const chosen = word !== undefined && Object.hasOwn(subcommands, word) ? [subcommands[word]!] : Object.values(subcommands)
  // Single modules, not barrels: a dynamic import keeps all of a module, so a barrel here
  // would put the whole of Effect into the bundles.
  return Promise.all([
    Promise.all(chosen.map((load) => load())),
    import("effect/cli/Command"),
    import("effect/Effect"),
    import("effect/Cause"),
    import("effect/Exit"),
    import("effect/Runtime"),
    import("@effect/platform-node/NodeRuntime"),
    import("@effect/platform-node/NodeServices"),
    import("./exitCode.ts"),
    import("./presenter.ts")
  ]).then(([commands, Command, Effect, Cause, Exit, Runtime, NodeRuntime, NodeServices, { onInterrupt }, { presenterLayer }]) =>
    Command.make("grid").pipe(
      Command.withDescription("grid: a load-test node agent and its controller"),
      Command.withSubcommands(commands),
      Command.run({ version: VERSION }),
      // A command line that does not parse: the error alone, not after the whole help page.
      Effect.provide(presenterLayer),
      Effect.provide(NodeServices.layer),
      (program) =>
        // What the subcommands require is exactly what NodeServices provides (checked where each is defined).
        NodeRuntime.runMain(program as EffectType.Effect<void, unknown>, {
          // A signal is how `grid daemon` is normally stopped: it exits 0 after a clean shutdown.
          teardown: (exit, onExit) =>
            Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
              ? onExit(onInterrupt.exitCode)
              : Runtime.defaultTeardown(exit, onExit)
        })
    )
  )
}

const args = process.argv.slice(2)
const instant = instantAnswer(args)
if (instant !== undefined) process.stdout.write(`${instant}\n`)
else {
  main(args).catch((e: unknown) => {
    // Only a module that failed to load gets here: say which, without a stack.
    process.stderr.write(`grid: cannot start: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exitCode = 1
  })
}
