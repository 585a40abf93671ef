// The single executable (dist/grid) runs a browser scenario: playwright-core's package.json and
// browsers.json are inlined by the build (its require of them by path failed in the
// executable: "No such built-in module: ../package.json"), and Debian's chromium is found at
// its usual place. The steps and page metrics land in the JTL like HTTP samples.
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { serveTarget } from "../src/engine/TargetServer.ts"
import { ensureBinary } from "./support/binary.ts"

describe("dist/grid with a browser scenario", () => {
  it.live("grid engine drives chromium through the executable's own playwright-core", () =>
    Effect.scoped(Effect.gen(function*() {
      const binary = ensureBinary()
      const t = yield* serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} })
      const dir = mkdtempSync(join(tmpdir(), "grid-bin-browser-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const file = join(dir, "b.yaml")
      writeFileSync(file, `target: ${t.url}
browser:
  steps:
    - { name: home, goto: "/browser?delay=20" }
    - { name: submit, click: "#go", waitFor: "#results" }
load: { model: closed, users: 1, durationSeconds: 3 }
`)
      const jtl = join(dir, "out.jtl")
      // Asynchronously: the target answers from this same process while the child runs.
      const code = yield* Effect.callback<number | null>((resume) => {
        const child = execFile(binary, ["engine", file, "--results", jtl], { timeout: 90_000 }, () => undefined)
        child.on("close", (c) => resume(Effect.succeed(c)))
        return Effect.sync(() => child.kill("SIGKILL"))
      })
      expect(code).toBe(0)
      const labels = readFileSync(jtl, "utf8").trim().split("\n").slice(1).map((l) => `${l.split(",")[2]},${l.split(",")[7]}`)
      expect(labels).toContain("home,true")
      expect(labels).toContain("submit,true")
      expect(labels).toContain("home:lcp,true")
      expect(labels.filter((l) => l.startsWith("home,")).length).toBe(t.stats.paths["/browser"])
    })), 240_000)
})
