// Where the browser engine finds Chromium and puts its screenshots. The path comes from
// `--browser-path` (grid run, grid engine), the daemon's `--tool-path browser=...`, or
// GRID_BROWSER_PATH; without one, the usual install locations are searched in order, and
// a machine with none gets an error listing what was tried (never a download: a node runs
// the browser its operator installed).
import { accessSync, constants } from "node:fs"

export interface BrowserOptions {
  /** Chromium's executable; searched for when absent. */
  readonly path?: string | undefined
  /** Where failed-step and `screenshot:` PNGs go; none are written without it. */
  readonly screenshotDir?: string | undefined
}

/** Debian/Ubuntu, Fedora, snaps, Google's packages, macOS. */
export const browserCandidates: ReadonlyArray<string> = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/snap/bin/chromium",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "/opt/google/chrome/chrome",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"
]

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The executable to launch, or why there is none (naming what was tried). */
export const resolveBrowserPath = (
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env
): { readonly path: string } | { readonly problem: string } => {
  const given = explicit ?? env.GRID_BROWSER_PATH
  if (given !== undefined && given !== "") {
    return executable(given)
      ? { path: given }
      : { problem: `browser ${given} (${explicit !== undefined ? "--browser-path" : "GRID_BROWSER_PATH"}) is not an executable file` }
  }
  const found = browserCandidates.find(executable)
  return found !== undefined
    ? { path: found }
    : { problem: `no Chromium found (tried ${browserCandidates.join(", ")}); install chromium or give --browser-path` }
}

/**
 * Chromium's flags. Its sandbox cannot start as root (it exits "Running as root without
 * --no-sandbox is not supported"), so only then is it turned off; a node run as a normal
 * user keeps it. /dev/shm is small in containers, hence disable-dev-shm-usage there.
 */
export const chromiumArgs = (): Array<string> => [
  ...(typeof process.getuid === "function" && process.getuid() === 0 ? ["--no-sandbox"] : []),
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-extensions",
  "--mute-audio"
]
