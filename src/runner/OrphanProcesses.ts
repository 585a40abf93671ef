// Finds the process-runner tools an earlier life of this node left running. A daemon killed
// with SIGKILL runs no finalizer and its children survive it (they run detached, each in its
// own process group), still sending load. The process backend starts every tool in its test's
// work directory (`<root>/<testId>`), so a process whose current directory lies under the
// root, in a test this node does not run, belongs to an orphan group, which is killed whole,
// but only if the group's leader is gone or was adopted by PID 1: the children of a live
// daemon (its parent) are never touched, even if the running set is momentarily wrong, nor
// is a shell someone opened in a work directory. Linux only (reads /proc); elsewhere it finds
// nothing. Plain synchronous code: the orphan sweep wraps it.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs"
import { isId } from "../protocol/names.ts"

export interface OrphanGroup {
  readonly pgid: number
  readonly testId: string
  readonly pids: ReadonlyArray<number>
}

interface Stat {
  readonly zombie: boolean
  readonly ppid: number
  readonly pgrp: number
}

/** Fields 3-5 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces). */
const statOf = (pid: number | "self"): Stat | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { zombie: fields[0] === "Z", ppid: Number(fields[1]), pgrp: Number(fields[2]) }
  } catch {
    return undefined
  }
}

/** The group's leader is gone (or a zombie nobody reaps yet) or was adopted by PID 1. */
const abandoned = (pgid: number): boolean => {
  const leader = statOf(pgid)
  return leader === undefined || leader.zombie || leader.ppid === 1
}

/** Process groups with a member working under `<root>/<testId>` for a test not in `running`. */
export const findOrphanGroups = (root: string, running: ReadonlySet<string>): Array<OrphanGroup> => {
  let realRoot: string
  let pids: Array<string>
  try {
    realRoot = realpathSync(root)
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p))
  } catch {
    return []
  }
  const own = statOf("self")?.pgrp
  const groups = new Map<number, { testId: string; pids: Array<number> }>()
  for (const p of pids) {
    const pid = Number(p)
    if (pid === process.pid) continue
    let cwd: string
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`).replace(/ \(deleted\)$/, "")
    } catch {
      continue
    }
    if (!cwd.startsWith(realRoot + "/")) continue
    const testId = cwd.slice(realRoot.length + 1).split("/")[0]!
    if (!isId(testId) || running.has(testId)) continue
    const st = statOf(pid)
    if (st === undefined || st.zombie) continue
    const pgid = st.pgrp
    if (pgid <= 1 || pgid === own) continue
    const group = groups.get(pgid) ?? { testId, pids: [] }
    group.pids.push(pid)
    groups.set(pgid, group)
  }
  const orphans = [...groups].filter(([pgid]) => abandoned(pgid))
  // A group started by an orphan is one too, though its leader's parent still lives: the
  // browser engine's Chromium runs in a process group of its own (Playwright starts it
  // detached), a child of the orphaned `grid engine`. Followed down, generation by generation.
  const doomed = new Set(orphans.flatMap(([, g]) => g.pids))
  const taken = new Set(orphans.map(([pgid]) => pgid))
  for (let added = true; added;) {
    added = false
    for (const [pgid, g] of groups) {
      if (taken.has(pgid)) continue
      const leader = statOf(pgid)
      if (leader !== undefined && doomed.has(leader.ppid)) {
        orphans.push([pgid, g])
        taken.add(pgid)
        for (const pid of g.pids) doomed.add(pid)
        added = true
      }
    }
  }
  return orphans.map(([pgid, g]) => ({ pgid, testId: g.testId, pids: g.pids }))
}

/** SIGKILLs a whole group; `undefined` when done (or already gone), else why not. */
export const killGroup = (pgid: number): string | undefined => {
  try {
    process.kill(-pgid, "SIGKILL")
    return undefined
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === "ESRCH" ? undefined : `process group ${pgid}: ${(e as Error).message}`
  }
}
