// The `grid` CLI as a user runs it (`grid launch`, `grid run`, `grid report`, ...), for Effect
// tests: a real Node 24 process, its output captured line by line with the time each line
// arrived (by the Clock), killed with the scope if it is still running.
import { Clock, Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { gridMain, nodeBin } from "./daemon.ts"

export interface Line {
  readonly at: number
  readonly text: string
}

export interface GridProcess {
  readonly child: ChildProcess
  /** stdout and stderr, interleaved as they arrived. */
  readonly output: () => string
  readonly stdout: () => string
  readonly stderr: () => string
  /** Every complete output line (stdout and stderr) with the time it arrived. */
  readonly lines: ReadonlyArray<Line>
  /** Its exit code, once it exited and its output was read to the end. */
  readonly exited: Effect.Effect<number | null>
}

export interface Ran {
  readonly code: number | null
  readonly out: string
  readonly stdout: string
  readonly stderr: string
  readonly lines: ReadonlyArray<Line>
}

/** `grid <args>` as a process of the scope (SIGKILLed when the scope closes first), with
 * these variables added to the environment. */
export const spawnGrid = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<GridProcess, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    return yield* Effect.acquireRelease(
      Effect.sync((): GridProcess => {
        const child = spawn(nodeBin, [gridMain, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })
        let out = ""
        let stdout = ""
        let stderr = ""
        let partial = ""
        const lines: Array<Line> = []
        const take = (d: Buffer) => {
          out += d
          const at = clock.currentTimeMillisUnsafe()
          const parts = (partial + d.toString()).split("\n")
          partial = parts.pop()!
          for (const text of parts) lines.push({ at, text })
        }
        child.stdout!.on("data", (d: Buffer) => {
          stdout += d
          take(d)
        })
        child.stderr!.on("data", (d: Buffer) => {
          stderr += d
          take(d)
        })
        // "close", not "exit": every byte of its output has been read by then.
        const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
        return { child, output: () => out, stdout: () => stdout, stderr: () => stderr, lines, exited: Effect.promise(() => closed) }
      }),
      (p) =>
        Effect.suspend(() => {
          if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL")
          return Effect.asVoid(p.exited)
        })
    )
  })

/** Runs `grid <args>` to its end. */
export const runGrid = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<Ran> =>
  Effect.scoped(Effect.flatMap(spawnGrid(args, env), (p) =>
    Effect.map(p.exited, (code) => ({ code, out: p.output(), stdout: p.stdout(), stderr: p.stderr(), lines: p.lines }))))
