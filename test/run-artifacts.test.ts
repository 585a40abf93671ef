// `grid run` with a browser scenario, real Chromium: a failed step's screenshot is kept in
// ./grid-artifacts/<testId>/ of the current folder and that folder is printed at the end; the
// run's JSON (`--out`) lists it in the node's terminal event. `--browser-path` reaches the
// in-process engine (before, only GRID_BROWSER_PATH did).
import { spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { serveTarget } from "../src/engine/TargetServer.ts"
import { gridMain, nodeBin } from "./support/daemon.ts"

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** `grid <args>` in `cwd`, its exit code and output (async: the target runs in this process). */
const grid = (args: ReadonlyArray<string>, cwd: string) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const { GRID_BROWSER_PATH: _, ...env } = process.env
      const child = spawn(nodeBin, [gridMain, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"], env })
      let out = ""
      child.stdout.on("data", (d) => (out += String(d)))
      child.stderr.on("data", (d) => (out += String(d)))
      child.on("close", (code) => resolve({ code, out }))
    })
  )

const scenario = (url: string) => ({
  target: url,
  browser: {
    steps: [
      { name: "home", goto: "/browser" },
      { name: "missing", click: "#not-on-the-page", timeoutSeconds: 1 }
    ]
  },
  load: { model: "closed", users: 1, durationSeconds: 3 }
})

describe("grid run keeps a browser scenario's screenshots", () => {
  it.effect("a failed step's PNG lands in ./grid-artifacts/<testId>/, printed at the end and listed in --out", () =>
    Effect.scoped(Effect.gen(function*() {
      const target = yield* serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} })
      const dir = mkdtempSync(join(tmpdir(), "grid-run-shots-"))
      writeFileSync(join(dir, "scenario.json"), JSON.stringify(scenario(target.url)))
      const ran = yield* grid(["run", "scenario.json", "--out", "out.json", "--browser-path", "/usr/bin/chromium"], dir)
      expect(ran.code, ran.out).toBe(0)
      const printed = /screenshots: (\d+) in (grid-artifacts\/run-\d+)\//.exec(ran.out)
      expect(printed, ran.out).not.toBeNull()
      const folder = join(dir, printed![2]!)
      const files = readdirSync(folder)
      expect(files.length).toBe(Number(printed![1]))
      const shot = files.find((f) => f.endsWith("-missing-failed.png"))
      expect(shot).toBeDefined()
      expect(readFileSync(join(folder, shot!)).subarray(0, 8).equals(PNG)).toBe(true)
      const node = JSON.parse(readFileSync(join(dir, "out.json"), "utf8")).node
      expect(node.artifacts.map((a: { name: string }) => a.name).sort()).toEqual([...files].sort())
    })), 180_000)

  it.effect("--browser-path is the Chromium the in-process engine starts", () =>
    Effect.scoped(Effect.gen(function*() {
      const target = yield* serveTarget({ port: 0, host: "127.0.0.1", defaults: { latencyMs: 0, errorRate: 0 }, routes: {} })
      const dir = mkdtempSync(join(tmpdir(), "grid-run-path-"))
      writeFileSync(join(dir, "scenario.json"), JSON.stringify(scenario(target.url)))
      const ran = yield* grid(["run", "scenario.json", "--browser-path", "/nonexistent/chromium"], dir)
      expect(ran.code).toBe(1)
      expect(ran.out).toContain("browser /nonexistent/chromium (--browser-path) is not an executable file")
      expect(target.stats.paths["/browser"]).toBeUndefined()
    })), 120_000)
})
