// Opening a file the node reads back from a test's work directory (the tool's result file, the
// docker cidfile). The tool controls that directory: it can put a symlink there to a host file
// (`ln -s /etc/passwd r.jtl`, from a process or from inside a container) or a FIFO that would
// block a plain open forever. So the path must resolve inside the work directory, is opened
// without following a last symlink and without blocking, and the opened descriptor must be a
// regular file whose real path (read back from /proc, so a swap between check and open is
// caught too) is still inside. Plain synchronous code for the Tailer's poll loop.
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync } from "node:fs"
import { sep } from "node:path"

/** The file exists but is not a regular file inside the work directory. */
export class WorkFileRefused extends Error {
  override readonly name = "WorkFileRefused"
}

const inside = (path: string, root: string) => path.startsWith(root.endsWith(sep) ? root : root + sep)

/**
 * Opens `file` for reading if it is a regular file inside `root`; `undefined` while it does not
 * exist (nor, for a dangling symlink, its target). Throws WorkFileRefused when it is refused,
 * and other I/O errors as they come.
 */
export const openInside = (file: string, root: string): number | undefined => {
  let real: string
  try {
    real = realpathSync(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw e
  }
  const realRoot = realpathSync(root)
  if (!inside(real, realRoot)) throw new WorkFileRefused(`${file} leads outside the test's work directory`)
  const fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    if (!fstatSync(fd).isFile()) throw new WorkFileRefused(`${file} is not a regular file`)
    let opened: string | undefined
    try {
      opened = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      opened = undefined // no /proc (not Linux): the realpath check above stands alone
    }
    if (opened !== undefined && !inside(opened, realRoot)) throw new WorkFileRefused(`${file} leads outside the test's work directory`)
    return fd
  } catch (e) {
    closeSync(fd)
    throw e
  }
}

/** Reads a small work-directory file whole (at most `maxBytes`), with the checks of `openInside`. */
export const readInside = (file: string, root: string, maxBytes = 4096): string | undefined => {
  const fd = openInside(file, root)
  if (fd === undefined) return undefined
  try {
    const buf = Buffer.allocUnsafe(maxBytes)
    const n = readSync(fd, buf, 0, maxBytes, 0)
    return buf.toString("utf8", 0, n)
  } finally {
    closeSync(fd)
  }
}
