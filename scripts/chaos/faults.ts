// The chaos run's faults, drawn from a seeded generator so a seed replays the same schedule
// (the same kinds, targets and delays; what the machine does in between still varies). Each
// injector does its harm and schedules its own repair (a restart after a random delay).
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { type Daemon, type Nats, running, signalDaemon, startDaemon } from "./fleet.ts"
import type { TestRecord } from "./workload.ts"

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export const rng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
export type Rng = ReturnType<typeof rng>
export const pick = <A>(r: Rng, xs: ReadonlyArray<A>): A => xs[Math.floor(r() * xs.length)]!
export const between = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))

export const faultKinds = ["daemon_sigkill", "daemon_sigterm", "tool_kill", "container_kill", "nats_kill", "disk_full", "controller_kill", "dockerd_restart"] as const
export type FaultKind = typeof faultKinds[number]

export interface FaultContext {
  readonly r: Rng
  readonly daemons: ReadonlyArray<Daemon>
  readonly nats: Nats
  readonly natsUrl: string
  readonly replicas: number | undefined
  readonly tests: ReadonlyArray<TestRecord>
  /** The node whose work dir is a tmpfs, when one could be mounted. */
  readonly diskNode: Daemon | undefined
  readonly log: (kind: FaultKind, detail: string) => void
  /** Repairs still pending; awaited before the checks. */
  readonly repairs: Array<Promise<void>>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const markNode = (c: FaultContext, nodeId: string, what: string) => {
  for (const t of c.tests) if (t.nodeId === nodeId && t.endedAt === undefined) t.nodeFaults.push(what)
}

/** Processes whose cwd is under `dir` (a daemon's tools), by pid. */
export const processesUnder = (dir: string): Array<number> => {
  const real = fs.realpathSync(dir)
  const out: Array<number> = []
  for (const p of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue
    try {
      if (fs.readlinkSync(`/proc/${p}/cwd`).startsWith(`${real}/`)) out.push(Number(p))
    } catch {
      // gone, or not ours to read
    }
  }
  return out
}

/** Injects one fault of `kind`; false when it had nothing to act on (no tool running, ...). */
export const inject = async (c: FaultContext, kind: FaultKind): Promise<boolean> => {
  const { r } = c
  switch (kind) {
    case "daemon_sigkill":
    case "daemon_sigterm": {
      const live = c.daemons.filter(running)
      if (live.length === 0) return false
      const d = pick(r, live)
      const delay = between(r, 1_000, 6_000)
      markNode(c, d.nodeId, kind)
      c.log(kind, `${d.nodeId}, restarted after ${delay} ms`)
      c.repairs.push((async () => {
        await signalDaemon(d, kind === "daemon_sigkill" ? "SIGKILL" : "SIGTERM")
        await sleep(delay)
        startDaemon(d, c.natsUrl, c.replicas)
      })())
      return true
    }
    case "tool_kill": {
      const busy = c.daemons.filter((d) => running(d) && processesUnder(d.workDir).length > 0)
      if (busy.length === 0) return false
      const d = pick(r, busy)
      const pid = pick(r, processesUnder(d.workDir))
      markNode(c, d.nodeId, kind)
      c.log(kind, `pid ${pid} of ${d.nodeId}`)
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // it ended by itself meanwhile
      }
      return true
    }
    case "container_kill": {
      const lines = (() => {
        try {
          return execFileSync("docker", ["ps", "--filter", "label=grid.node", "--format", "{{.ID}} {{.Label \"grid.node\"}}"], { encoding: "utf8", timeout: 20_000 })
            .split("\n").filter((l) => c.daemons.some((d) => l.endsWith(` ${d.nodeId}`)))
        } catch {
          return []
        }
      })()
      if (lines.length === 0) return false
      const [id, nodeId] = pick(r, lines).split(" ") as [string, string]
      markNode(c, nodeId, kind)
      c.log(kind, `container ${id} of ${nodeId}`)
      try {
        execFileSync("docker", ["kill", id], { stdio: "ignore", timeout: 20_000 })
      } catch {
        // it ended by itself meanwhile
      }
      return true
    }
    case "nats_kill": {
      const m = pick(r, c.nats.members)
      const delay = between(r, 1_000, 5_000)
      c.log(kind, `${m.name} kill -9, restarted after ${delay} ms`)
      await m.kill()
      c.repairs.push(sleep(delay).then(() => m.start()))
      await c.repairs[c.repairs.length - 1]
      return true
    }
    case "disk_full": {
      const d = c.diskNode
      if (d === undefined) return false
      const filler = path.join(d.workDir, ".chaos-filler")
      const hold = between(r, 2_000, 8_000)
      markNode(c, d.nodeId, kind)
      c.log(kind, `${d.nodeId}'s work dir filled for ${hold} ms`)
      try {
        execFileSync("sh", ["-c", `dd if=/dev/zero of='${filler}' bs=1M 2>/dev/null || true`])
      } catch {
        // ENOSPC is the point
      }
      c.repairs.push(sleep(hold).then(() => fs.rmSync(filler, { force: true })))
      return true
    }
    case "controller_kill": {
      const live = c.tests.filter((t) => t.child !== undefined && t.endedAt === undefined)
      if (live.length === 0) return false
      const t = pick(r, live)
      t.controllerKilled = true
      c.log(kind, `grid launch of ${t.testId}`)
      t.child!.kill("SIGKILL")
      return true
    }
    case "dockerd_restart": {
      // Only with --docker-faults (chaos.ts leaves it out otherwise): other work on this
      // machine shares dockerd. Restarted with its own command line once it exited.
      const pid = execFileSync("sh", ["-c", "pgrep -x dockerd | head -1 || true"], { encoding: "utf8" }).trim()
      if (pid === "") return false
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== "")
      const delay = between(r, 1_000, 5_000)
      c.log(kind, `dockerd (pid ${pid}) SIGTERM, restarted after ${delay} ms`)
      process.kill(Number(pid), "SIGTERM")
      c.repairs.push((async () => {
        while (fs.existsSync(`/proc/${pid}`)) await sleep(200)
        await sleep(delay)
        spawn(argv[0]!, argv.slice(1), { detached: true, stdio: "ignore" }).unref()
        for (let i = 0; i < 120; i++) {
          try {
            execFileSync("docker", ["info"], { stdio: "ignore", timeout: 5_000 })
            return
          } catch {
            await sleep(500)
          }
        }
      })())
      return true
    }
  }
}
