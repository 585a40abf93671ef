// The orphan sweep's process finder (src/runner/OrphanProcesses.ts) with real processes: a
// tool a killed node left (its group's leader adopted by PID 1, working in a test's directory)
// that started a process group of its own, as the browser engine's Chromium is (Playwright
// launches it detached), is found with that child group, which a live parent would otherwise
// have hidden; both are killed. A group whose leader's parent is alive and not an orphan stays.
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { findOrphanGroups, killGroup } from "../src/runner/OrphanProcesses.ts"

const alive = (pid: number) => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ")
  } catch {
    return false
  }
}

describe("orphan sweep: process groups started by an orphan", () => {
  it.live("finds and kills the orphan's own group and the group it started", () =>
    Effect.gen(function*() {
      const root = mkdtempSync(join(tmpdir(), "grid-orphan-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(root, { recursive: true, force: true })))
      const testDir = join(root, "t-browser-1")
      mkdirSync(testDir)
      const pidFile = join(root, "pids")
      // sh (gone at once) -> setsid A (a group leader adopted by PID 1, like a tool whose daemon
      // was SIGKILLed) -> setsid B (a group of its own whose leader's parent is A, like Chromium).
      execFileSync("sh", ["-c", `cd ${testDir} && (setsid sh -c 'setsid sleep 300 & echo $! > ${pidFile}.b; echo $$ > ${pidFile}.a; exec sleep 300' > /dev/null 2>&1 &)`])
      let a = 0
      let b = 0
      for (let i = 0; i < 100 && (a === 0 || b === 0); i++) {
        yield* Effect.sleep(Duration.millis(50))
        // A file read while being written is empty: only a whole number counts.
        const read = (f: string) => {
          try {
            const text = readFileSync(f, "utf8").trim()
            return /^\d+$/.test(text) ? Number(text) : 0
          } catch {
            return 0
          }
        }
        a = read(`${pidFile}.a`)
        b = read(`${pidFile}.b`)
      }
      // Never group 0 (this process's own group) should a pid be missing.
      yield* Effect.addFinalizer(() => Effect.sync(() => [a, b].filter((p) => p > 1).forEach((p) => killGroup(p))))
      expect(alive(a) && alive(b)).toBe(true)
      // A live parent that is not an orphan keeps its detached child out of the sweep.
      const kept = spawn("sleep", ["300"], { cwd: testDir, detached: true, stdio: "ignore" })
      yield* Effect.addFinalizer(() => Effect.sync(() => kept.kill("SIGKILL")))

      const groups = findOrphanGroups(root, new Set())
      expect(groups.map((g) => g.pgid).sort()).toEqual([a, b].sort())
      expect(groups.every((g) => g.testId === "t-browser-1")).toBe(true)
      for (const g of groups) expect(killGroup(g.pgid)).toBeUndefined()
      for (let i = 0; i < 100 && (alive(a) || alive(b)); i++) yield* Effect.sleep(Duration.millis(20))
      expect([alive(a), alive(b), alive(kept.pid!)]).toEqual([false, false, true])
    }).pipe(Effect.scoped), 30_000)
})
