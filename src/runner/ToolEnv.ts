// The environment a process-runner tool starts with. The daemon's own environment holds its
// secrets (GRID_NATS_TOKEN, NATS credentials, whatever the host put there), so a tool never
// inherits it: it gets only what a program needs to run at all (PATH, HOME, locale, TMPDIR, TZ,
// when the daemon has them) plus what its adapter and the command ask for. An adapter that needs
// more from the host (JAVA_HOME for JMeter) names it explicitly through `hostEnv`.
import type { RunnerName } from "./Backend.ts"

const BASE_NAMES = new Set(["PATH", "HOME", "LANG", "TMPDIR", "TZ"])

/** The daemon's variables every tool may see: PATH, HOME, LANG, LC_*, TMPDIR, TZ. */
export const baseToolEnv = (host: NodeJS.ProcessEnv = process.env): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(host)) {
    if (value !== undefined && (BASE_NAMES.has(name) || name.startsWith("LC_"))) env[name] = value
  }
  return env
}

/** The tool's whole environment: the base, then the adapter's and command's own (which win). */
export const toolEnv = (
  spec: Readonly<Record<string, string>>,
  host: NodeJS.ProcessEnv = process.env
): Record<string, string> => ({ ...baseToolEnv(host), ...spec })

/** Host variables an adapter passes on by name, for the process runner only (a container has
 * its own JAVA_HOME, and a host path means nothing inside it). */
export const hostEnv = (
  runner: RunnerName,
  names: ReadonlyArray<string>,
  host: NodeJS.ProcessEnv = process.env
): Record<string, string> => {
  const env: Record<string, string> = {}
  if (runner !== "process") return env
  for (const name of names) {
    const value = host[name]
    if (value !== undefined) env[name] = value
  }
  return env
}
