// A file that cannot be read, said in the user's words (`no such file: plan.yaml`) rather than
// the platform's (`NotFound: FileSystem.readFile (plan.yaml)`): for scenarios, plans, their data
// files and result files.
import type { PlatformError } from "effect"

const words: Record<string, string> = {
  NotFound: "no such file",
  PermissionDenied: "permission denied",
  BadResource: "not a readable file",
  Busy: "file busy"
}

/** From a FileSystem failure. */
export const fileProblem = (path: string, e: PlatformError.PlatformError): string => {
  const reason = e.reason
  if (reason._tag === "BadArgument") return `cannot read ${path}: ${reason.message}`
  const w = words[reason._tag]
  return w !== undefined ? `${w}: ${path}` : `cannot read ${path}: ${reason.description ?? reason._tag}`
}

/** From a node:fs exception (code ENOENT, EACCES, EISDIR ...). */
export const fsProblem = (path: string, e: unknown): string => {
  const code = (e as { code?: string }).code
  return code === "ENOENT"
    ? `no such file: ${path}`
    : code === "EACCES"
    ? `permission denied: ${path}`
    : code === "EISDIR"
    ? `${path} is a directory, not a file`
    : `cannot read ${path}: ${(e as Error).message}`
}
