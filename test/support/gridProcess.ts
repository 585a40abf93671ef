// A real `grid` process (Node 24, the sources) with its stdout and stderr captured apart, for
// tests that judge what the process prints (log formats) or talks to (trace exporters).
import { spawn } from "node:child_process"
import * as path from "node:path"

export interface GridProcess {
  readonly child: ReturnType<typeof spawn>
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  /** SIGTERM, then the exit code. */
  readonly stop: () => Promise<number | null>
}

export const spawnGrid = (args: ReadonlyArray<string>, env: Record<string, string> = {}): GridProcess => {
  const root = path.resolve(import.meta.dirname, "../..")
  const child = spawn(path.join(root, "node_modules/.bin/node"), [path.join(root, "src/cli/main.ts"), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let out = ""
  let err = ""
  child.stdout!.on("data", (b) => (out += b))
  child.stderr!.on("data", (b) => (err += b))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      return exited
    }
  }
}
