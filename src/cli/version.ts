// `grid version [--json]`: what build this is (version, commit, Node, build time, and whether it
// is the single executable, the npm bundle or the sources). main.ts answers the plain forms
// before loading anything; this definition is what `grid --help` lists and what parses the rest.
import { Console } from "effect"
import { Command, Flag } from "effect/cli"
import { versionText } from "../version.ts"

export const versionCommand = Command.make(
  "version",
  { json: Flag.Boolean("json").pipe(Flag.withDescription("One JSON object: version, commit, node, builtAt, build")) },
  (f) => Console.log(versionText(f.json))
).pipe(
  Command.withDescription("Print grid's version, commit, Node version and build time"),
  Command.withExamples([
    { command: "grid version --json", description: "Version, commit, Node version and build time as JSON" }
  ])
)

