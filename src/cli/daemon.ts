// `grid daemon`: placeholder until the daemon core lands.
import { Console, Effect } from "effect"
import { Command } from "effect/cli"

export const daemonCommand = Command.make("daemon", {}, () => Console.log("grid daemon: not yet")).pipe(
  Command.withDescription("Run the grid node agent")
)
void Effect
