// The `grid` command line: one subcommand per file in src/cli/, assembled here.
// Run through npm scripts or bin/grid.js so Node 24 (the devDependency) executes it.
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { Runtime } from "effect"
import { Command } from "effect/cli"
import { daemonCommand } from "./daemon.ts"
import { onInterrupt } from "./exitCode.ts"
import { VERSION } from "../health/HealthReporter.ts"
import { engineCommand } from "./engine.ts"
import { runCommand } from "./run.ts"
import { targetCommand } from "./target.ts"
import { reportCommand } from "./report.ts"
import { nodesCommand } from "./nodes.ts"
import { launchCommand } from "./launch.ts"
import { stopCommand } from "./stop.ts"
import { resultsCommand } from "./results.ts"

const grid = Command.make("grid").pipe(
  Command.withDescription("grid: a load-test node agent and its controller"),
  Command.withSubcommands([
    daemonCommand,
    runCommand,
    engineCommand,
    targetCommand,
    reportCommand,
    nodesCommand,
    launchCommand,
    stopCommand,
    resultsCommand
  ])
)

grid.pipe(
  Command.run({ version: VERSION }),
  Effect.provide(NodeServices.layer),
  (program) =>
    NodeRuntime.runMain(program, {
      // A signal is how `grid daemon` is normally stopped: it exits 0 after a clean shutdown.
      teardown: (exit, onExit) =>
        Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
          ? onExit(onInterrupt.exitCode)
          : Runtime.defaultTeardown(exit, onExit)
    })
)
