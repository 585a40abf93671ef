// `grid convert <recording.har> [--out scenario.yaml] [--keep-assets]`: a browser's HAR export
// into a built-in engine scenario (src/engine/har/HarConvert.ts): requests in recorded order,
// static assets dropped unless kept, think times from the recorded gaps, tokens captured where
// they first appear. The scenario is checked by the same loader `grid run` uses before it is
// written, so what convert writes runs. Without --out the YAML goes to stdout; what was found
// goes to stderr. Exit codes: 0 written, 1 unreadable file, not a HAR, or nothing to convert.
import { writeFileSync } from "node:fs"
import { stringify } from "yaml"
import { Console, Effect, FileSystem, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { fileProblem } from "../engine/FileProblem.ts"
import { convertHar } from "../engine/har/HarConvert.ts"
import { MAX_HAR_BYTES } from "../engine/har/HarSchema.ts"
import { decodeScenario } from "../engine/ScenarioLoader.ts"
import { outputProblem } from "./overrides.ts"

const fail = (message: string) =>
  Effect.gen(function*() {
    yield* Console.error(`grid convert: ${message}`)
    process.exitCode = 1
  })

export const convertCommand = Command.make(
  "convert",
  {
    har: Argument.String("recording").pipe(Argument.withDescription("HAR file (a browser's \"Save all as HAR\", Playwright's recordHar)")),
    out: Flag.String("out").pipe(Flag.withDescription("Write the scenario (YAML) here instead of stdout"), Flag.optional),
    keepAssets: Flag.Boolean("keep-assets").pipe(
      Flag.withDescription("Keep static assets (scripts, styles, images, fonts, media; dropped by default)"),
      Flag.withDefault(false)
    )
  },
  Effect.fn(function*({ har, out: given, keepAssets }) {
    const problem = outputProblem("--out", given)
    const out = Option.filter(given, (o) => o !== "-")
    if (problem !== undefined) return yield* fail(problem)
    const fs = yield* FileSystem.FileSystem
    const info = yield* Effect.result(fs.stat(har))
    if (info._tag === "Failure") return yield* fail(fileProblem(har, info.failure))
    if (Number(info.success.size) > MAX_HAR_BYTES) return yield* fail(`${har}: larger than ${MAX_HAR_BYTES / 1024 / 1024} MB`)
    const text = yield* Effect.result(fs.readFileString(har))
    if (text._tag === "Failure") return yield* fail(fileProblem(har, text.failure))
    let raw: unknown
    try {
      raw = JSON.parse(text.success)
    } catch (e) {
      return yield* fail(`${har}: not JSON (${(e as Error).message})`)
    }
    const converted = convertHar(raw, { keepAssets })
    if (typeof converted === "string") return yield* fail(`${har}: ${converted}`)
    // What is written must load: the same checks as grid run.
    const checked = yield* Effect.result(decodeScenario(converted.scenario, Option.getOrElse(out, () => "the converted scenario")))
    if (checked._tag === "Failure") return yield* fail(checked.failure.message)
    const yaml = `# grid convert ${har}: ${converted.kept} requests from ${converted.entries} entries\n${stringify(converted.scenario, { lineWidth: 0 })}`
    if (Option.isSome(out)) writeFileSync(out.value, yaml)
    else process.stdout.write(yaml)
    const found = converted.captures.map((c) => `  ${c.name} from ${c.from} (${JSON.stringify(c.spec)})`)
    yield* Console.error([
      `${converted.entries} entries: ${converted.kept} requests kept, ${converted.assets} static assets dropped${converted.skipped > 0 ? `, ${converted.skipped} skipped (not http(s) or an unsupported method)` : ""}`,
      `${converted.captures.length} token${converted.captures.length === 1 ? "" : "s"} turned into captures${found.length > 0 ? ":" : ""}`,
      ...found,
      ...converted.notes.map((n) => `note: ${n}`),
      ...(Option.isSome(out) ? [`scenario written to ${out.value} (load: 1 user for 60 s; edit load: before grid run)`] : [])
    ].join("\n"))
  })
).pipe(
  Command.withDescription("Turn a browser's HAR recording into a built-in engine scenario"),
  Command.withExamples([
    { command: "grid convert recording.har --out scenario.yaml", description: "Requests, think times and captured tokens from a recording" },
    { command: "grid convert recording.har --keep-assets > scenario.yaml", description: "Keep scripts, styles and images too" }
  ])
)
