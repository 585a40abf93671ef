// Docs that cannot drift (issue 12, item 5): docs/cli.md is what scripts/cli-docs.ts generates
// from the command definitions; docs/scenarios.md describes every field of the scenario and plan
// schemas, and every example in it decodes; every subcommand's help has an example.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parse as parseYaml } from "yaml"
import { cliDocs } from "../scripts/cli-docs.ts"
import { decodePlan, PlanFile, PlanFileSchema } from "../src/controller/Plan.ts"
import { BrowserSpec, BrowserStep } from "../src/engine/browser/BrowserScenario.ts"
import { CheckSpec } from "../src/engine/flows/FlowSchema.ts"
import { ClosedLoad, ClosedStage, FlowSpec, OpenLoad, OpenStage, RequestSpec, ScenarioFile } from "../src/engine/Scenario.ts"
import { decodeScenario } from "../src/engine/ScenarioLoader.ts"
import { parseThreshold } from "../src/engine/Thresholds.ts"
import { Limits } from "../src/protocol/commands.ts"

const root = join(import.meta.dirname, "..")
const read = (p: string) => readFileSync(join(root, p), "utf8")
const scenarios = read("docs/scenarios.md")

/** The fenced yaml blocks whose first line is `# <kind>`. */
const blocks = (kind: string): Array<string> =>
  [...scenarios.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.startsWith(`# ${kind}\n`))

// A data file with every column the examples use.
const readText = () => Effect.succeed("term,user,id\ngrid,alice,1\n")

describe("docs/cli.md", () => {
  it.effect("is what scripts/cli-docs.ts generates from the command definitions", () =>
    Effect.map(Effect.promise(() => cliDocs()), (generated) => {
      expect(read("docs/cli.md")).toBe(generated)
    }), 30_000)

  it("every subcommand's help has an example and the defaults newcomers asked for", () => {
    const cli = read("docs/cli.md")
    const sections = cli.split(/^## /m).slice(1)
    expect(sections.length).toBeGreaterThanOrEqual(10)
    for (const s of sections) expect(s, s.slice(0, 20)).toContain("EXAMPLES")
    expect(cli).toContain("default nats://127.0.0.1:4222")
    expect(cli).toContain("Window length in ms (default 1000)")
    expect(cli).toContain("default: detected from its content")
  })
})

describe("docs/scenarios.md", () => {
  it("describes every field of the scenario and plan schemas", () => {
    const fields = [
      ScenarioFile,
      RequestSpec,
      FlowSpec,
      CheckSpec,
      BrowserSpec,
      BrowserStep,
      ClosedLoad,
      OpenLoad,
      ClosedStage,
      OpenStage,
      PlanFileSchema,
      PlanFile,
      Limits
    ].flatMap((s) => Object.keys(s.fields))
    const missing = [...new Set([...fields, "file"])].filter((f) => !scenarios.includes(`\`${f}\``))
    expect(missing).toEqual([])
  })

  it.effect("every scenario example decodes", () =>
    Effect.gen(function*() {
      const examples = blocks("scenario")
      expect(examples.length).toBeGreaterThanOrEqual(5)
      for (const text of examples) {
        const r = yield* Effect.result(decodeScenario(parseYaml(text), "docs", {}, readText))
        expect(r._tag === "Success" ? "ok" : r.failure.message, text).toBe("ok")
      }
    }))

  it.effect("every plan example decodes", () =>
    Effect.gen(function*() {
      const examples = blocks("plan")
      expect(examples.length).toBeGreaterThanOrEqual(2)
      for (const text of examples) {
        const r = yield* Effect.result(decodePlan(parseYaml(text), "docs", readText))
        expect(r._tag === "Success" ? "ok" : r.failure.message, text).toBe("ok")
      }
    }))

  it("every threshold example parses", () => {
    const examples = blocks("thresholds").flatMap((b) => parseYaml(b) as Array<string>)
    expect(examples.length).toBeGreaterThanOrEqual(5)
    for (const t of examples) expect(typeof parseThreshold(t), t).toBe("object")
  })

  it.effect("the examples directory's plans and scenarios decode and agree with themselves", () =>
    Effect.gen(function*() {
      for (const f of ["examples/plan.yaml", "examples/plan-open.json"]) {
        const raw = parseYaml(read(f)) as { params?: unknown; scenario: { target: string } }
        expect(raw.params, f).toBeUndefined() // no params contradicting the scenario
        const r = yield* Effect.result(decodePlan(raw, f, readText))
        expect(r._tag === "Success" ? "ok" : r.failure.message, f).toBe("ok")
      }
      const q = yield* Effect.result(decodeScenario(parseYaml(read("examples/quickstart.yaml")), "q", {}, readText))
      expect(q._tag).toBe("Success")
    }))

  it("the README points to both pages and lists grid engine", () => {
    const readme = read("README.md")
    expect(readme).toContain("docs/scenarios.md")
    expect(readme).toContain("docs/cli.md")
    expect(readme).toContain("grid engine")
    expect(readme).not.toContain("the schema in `src/engine/Scenario.ts`")
  })
})
